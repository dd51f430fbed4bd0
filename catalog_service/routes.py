"""The catalog API: thin views over services.py and content.py."""

from flask import current_app
from flask.views import MethodView

from service_kit import get_session
from service_kit.api import QUERY_ARGS, Blueprint, accepts_upload_of
from service_kit.auth import current_principal, require_auth, require_permission
from service_kit.pagination import PAGINATION_HEADER, Page, pagination_header
from service_kit.permissions import COURSES_ADMIN, MATERIALS_WRITE
from service_kit.routing import MAX_USER_ID

from . import content, search, services
from .cache import cached_response, etagged_response
from .downloads import file_response
from .recycle_schemas import DeletedCourseSchema, DeletedMaterialSchema
from .rendering import render_markdown
from .schemas import (
    CourseCreateSchema,
    CourseDetailsSchema,
    CourseMaterialsSchema,
    CourseQueryArgsSchema,
    CourseSchema,
    CourseSearchQueryArgsSchema,
    CourseUpdateSchema,
    FileUploadSchema,
    MaterialCreateSchema,
    MaterialPreviewSchema,
    MaterialQueryArgsSchema,
    MaterialSchema,
    MaterialTextSchema,
    MaterialTypeSchema,
    MaterialUpdateSchema,
    RenderedSchema,
    SearchHitSchema,
    SearchQueryArgsSchema,
    SemesterSchema,
)
from .users import users_for_this_request

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


@blp.route("/material-types")
class MaterialTypes(MethodView):
    @cached_response
    @blp.response(200, MaterialTypeSchema(many=True))
    def get(self):
        """The kinds of material (lecture, seminar, lab), in display order."""
        return services.material_types(get_session())


@blp.route("/search")
class Search(MethodView):
    @cached_response
    @blp.arguments(SearchQueryArgsSchema, **QUERY_ARGS)
    @blp.response(200, SearchHitSchema(many=True))
    def get(self, args):
        """Courses and materials (their text and files too) matching every word, best first."""
        session = get_session()
        type_code = args.get("type")
        if type_code is not None:
            type_code = services.resolve_material_type(session, type_code)
        return search.search(
            session,
            args["query"],
            course_id=args.get("course_id"),
            type_code=type_code,
            limit=args["limit"],
        )


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

    @require_permission(COURSES_ADMIN)
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, course_id):
        """Move a course and its materials to the recycle bin (admin)."""
        services.delete_course(get_session(), current_principal(), course_id)


def _keep_days() -> int:
    return current_app.config["CATALOG_RECYCLE_DAYS"]


@blp.route(f"/courses/{COURSE_ID}/restore")
class CourseRestore(MethodView):
    @require_permission(COURSES_ADMIN)
    @blp.response(200, CourseDetailsSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, course_id):
        """Take a course out of the recycle bin, with its materials (admin)."""
        return services.restore_course(get_session(), course_id)


@blp.route("/recycle-bin/courses")
class DeletedCourses(MethodView):
    @require_permission(COURSES_ADMIN)
    @blp.response(200, DeletedCourseSchema(many=True))
    def get(self):
        """Courses in the recycle bin, most recent first, with when they will be purged (admin)."""
        return services.deleted_courses(get_session(), keep_days=_keep_days())


@blp.route(f"/courses/{COURSE_ID}/recycle-bin")
class CourseRecycleBin(MethodView):
    @require_permission(MATERIALS_WRITE)
    @blp.response(200, DeletedMaterialSchema(many=True))
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, course_id):
        """A course's deleted materials: who deleted them, when, when they will be purged
        (a teacher of the course, or an admin)."""
        return services.recycle_bin(
            get_session(), current_principal(), course_id, keep_days=_keep_days()
        )


@blp.route(f"/courses/{COURSE_ID}/materials/{MATERIAL_ID}/restore")
class MaterialRestore(MethodView):
    @require_permission(MATERIALS_WRITE)
    @blp.response(200, MaterialSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, course_id, material_id):
        """Take a material out of the recycle bin (a teacher of the course, or an admin)."""
        return services.restore_material(get_session(), current_principal(), course_id, material_id)


@blp.route(f"/courses/{COURSE_ID}/teachers/{USER_ID}")
class CourseTeacher(MethodView):
    @require_permission(COURSES_ADMIN)
    @blp.response(200, CourseDetailsSchema)
    @blp.alt_response(404, description="No such course, or no such user")
    @blp.alt_response(409, description="The user's account is deactivated")
    @blp.alt_response(503, description="The auth service could not be asked; nothing stored")
    def put(self, course_id, user_id):
        """Assign a teacher to a course (admin): an existing, active user, as auth knows them."""
        return services.assign_teacher(
            get_session(), course_id, user_id, users=users_for_this_request()
        )

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
        """Move a material to its course's recycle bin (a teacher of the course, or an admin)."""
        services.delete_material(get_session(), current_principal(), course_id, material_id)


@blp.route(f"/courses/{COURSE_ID}/materials/preview")
class MaterialPreview(MethodView):
    @require_permission(MATERIALS_WRITE)
    @blp.arguments(MaterialPreviewSchema)
    @blp.response(200, RenderedSchema)
    def post(self, body, course_id):
        """Render a Markdown body as the material page will show it (the editor's preview)."""
        services.editable_course(get_session(), current_principal(), course_id)
        return {"html": render_markdown(body["body"])}


@blp.route(f"/courses/{COURSE_ID}/materials/{MATERIAL_ID}/text")
class MaterialText(MethodView):
    @cached_response
    @blp.response(200, MaterialTextSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, course_id, material_id):
        """The text a material stores: its body, its file's extracted text, or both."""
        return content.material_text(get_session(), course_id, material_id)


accepts_file_upload = accepts_upload_of(lambda: current_app.config["MATERIAL_FILE_MAX_BYTES"])


@blp.route(f"/courses/{COURSE_ID}/materials/{MATERIAL_ID}/file")
class MaterialFile(MethodView):
    @blp.response(200, description="The file, as an attachment; Range and ETag supported")
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, course_id, material_id):
        """Download the material's file."""
        material = content.material_file(get_session(), course_id, material_id)
        return file_response(material, current_app.extensions["file_storage"])

    @require_permission(MATERIALS_WRITE)
    @accepts_file_upload
    @blp.arguments(FileUploadSchema, location="files")
    @blp.response(200, MaterialSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(413, description="Larger than MATERIAL_FILE_MAX_MB")
    @blp.alt_response(415, description="Not an allowed type (decided by the content)")
    def put(self, files, course_id, material_id):
        """Upload or replace the material's file (multipart field `file`)."""
        upload = files["file"]
        return content.attach_file(
            get_session(),
            current_app.extensions["file_storage"],
            current_principal(),
            course_id,
            material_id,
            upload.stream,
            upload.filename,
            max_bytes=current_app.config["MATERIAL_FILE_MAX_BYTES"],
            queue_text=current_app.extensions["queue_text"],
        )

    @require_permission(MATERIALS_WRITE)
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, course_id, material_id):
        """Remove the material's file."""
        content.remove_file(get_session(), current_principal(), course_id, material_id)
