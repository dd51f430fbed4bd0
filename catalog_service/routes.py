"""The catalog API: thin views over services.py."""

from flask.views import MethodView

from service_kit import get_session
from service_kit.api import QUERY_ARGS, Blueprint
from service_kit.auth import current_principal, require_auth, require_permission
from service_kit.pagination import PAGINATION_HEADER, Page, pagination_header
from service_kit.permissions import COURSES_ADMIN, MATERIALS_WRITE
from service_kit.routing import MAX_USER_ID

from . import services
from .cache import cached_response, etagged_response
from .schemas import (
    CourseCreateSchema,
    CourseDetailsSchema,
    CourseMaterialsSchema,
    CourseQueryArgsSchema,
    CourseSchema,
    CourseSearchQueryArgsSchema,
    CourseUpdateSchema,
    MaterialCreateSchema,
    MaterialQueryArgsSchema,
    MaterialSchema,
    MaterialUpdateSchema,
    SemesterSchema,
)

blp = Blueprint("catalog", __name__, url_prefix="/api", description="Courses and materials")


COURSE_ID = "<id:course_id>"
MATERIAL_ID = "<id:material_id>"
USER_ID = f"<id(max={MAX_USER_ID}):user_id>"


@blp.route("/courses")
class Courses(MethodView):
    @cached_response
    @blp.arguments(CourseQueryArgsSchema, **QUERY_ARGS)
    @blp.response(200, CourseSchema(many=True), headers=PAGINATION_HEADER)
    def get(self, args):
        """All active courses, by semester then name."""
        result = services.list_courses(get_session(), **args)
        if isinstance(result, Page):
            return result.items, pagination_header(result)
        return result

    @require_permission(COURSES_ADMIN)
    @blp.arguments(CourseCreateSchema)
    @blp.response(201, CourseDetailsSchema)
    def post(self, course):
        """Create a course (admin)."""
        return services.create_course(get_session(), **course)


@blp.route("/semesters")
class Semesters(MethodView):
    @cached_response
    @blp.response(200, SemesterSchema(many=True))
    def get(self):
        """Active courses grouped by semester."""
        return services.list_semesters(get_session())


@blp.route("/courses/search")
class CourseSearch(MethodView):
    @cached_response
    @blp.arguments(CourseSearchQueryArgsSchema, **QUERY_ARGS)
    @blp.response(200, CourseSchema(many=True))
    def get(self, args):
        """Active courses whose name or description contains the query; name matches first."""
        return services.search_courses(get_session(), args["query"], args["limit"])


@blp.route(f"/courses/{COURSE_ID}")
class CourseById(MethodView):
    @cached_response
    @blp.response(200, CourseDetailsSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, course_id):
        """One active course with its teachers and material counts."""
        return services.get_course(get_session(), course_id)

    @require_permission(COURSES_ADMIN)
    @blp.arguments(CourseUpdateSchema)
    @blp.response(200, CourseDetailsSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def patch(self, changes, course_id):
        """Edit or deactivate a course (admin)."""
        return services.update_course(get_session(), course_id, changes)


@blp.route(f"/courses/{COURSE_ID}/teachers/{USER_ID}")
class CourseTeacher(MethodView):
    @require_permission(COURSES_ADMIN)
    @blp.response(200, CourseDetailsSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def put(self, course_id, user_id):
        """Assign a teacher to a course (admin)."""
        return services.assign_teacher(get_session(), course_id, user_id)

    @require_permission(COURSES_ADMIN)
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, course_id, user_id):
        """Unassign a teacher from a course (admin)."""
        services.unassign_teacher(get_session(), course_id, user_id)


@blp.route("/teacher/courses")
class TeacherCourses(MethodView):
    @require_auth
    @etagged_response
    @blp.response(200, CourseSchema(many=True))
    def get(self):
        """The active courses the caller teaches."""
        return services.teacher_courses(get_session(), current_principal().user_id)


@blp.route(f"/courses/{COURSE_ID}/materials")
class Materials(MethodView):
    @cached_response
    @blp.arguments(MaterialQueryArgsSchema, **QUERY_ARGS)
    @blp.response(200, CourseMaterialsSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args, course_id):
        """A course's materials by type, then lesson number; `type` filters."""
        return services.list_materials(get_session(), course_id, args.get("type"))

    @require_permission(MATERIALS_WRITE)
    @blp.arguments(MaterialCreateSchema)
    @blp.response(201, MaterialSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, material, course_id):
        """Add a material (a teacher of the course, or an admin)."""
        return services.create_material(get_session(), current_principal(), course_id, material)


@blp.route(f"/courses/{COURSE_ID}/materials/{MATERIAL_ID}")
class MaterialById(MethodView):
    @cached_response
    @blp.response(200, MaterialSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, course_id, material_id):
        """One material of a course."""
        return services.get_material(get_session(), course_id, material_id)

    @require_permission(MATERIALS_WRITE)
    @blp.arguments(MaterialUpdateSchema)
    @blp.response(200, MaterialSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def patch(self, changes, course_id, material_id):
        """Edit a material (a teacher of the course, or an admin)."""
        return services.update_material(
            get_session(), current_principal(), course_id, material_id, changes
        )

    @require_permission(MATERIALS_WRITE)
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, course_id, material_id):
        """Delete a material (a teacher of the course, or an admin)."""
        services.delete_material(get_session(), current_principal(), course_id, material_id)
