"""Builds docs/postman/course-portal.postman_collection.json from the portal's OpenAPI.

1. The services' OpenAPI documents, merged exactly as the gateway merges them for /api/docs
   (gateway.docs.merge_specs), are converted by openapi-to-postmanv2 into one request per
   operation.
2. Those requests are arranged into a scenario a user of the portal would go through, with real
   values (ids saved from earlier responses, tokens from logins) and a test script on each:
   the status code, the response body against the operation's own response schema, the JSON
   error shape on errors, and what the step is about (ordering, ids, permissions...).

Every operation of the API must appear in the scenario; the build fails otherwise, and so does
tests/deploy/test_postman_collection.py once an operation is added without a step.

    (cd docs/postman && npm ci) && .venv/bin/python scripts/build-postman-collection.py
Run it against the system with scripts/run-newman.sh.
"""

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

POSTMAN_DIR = REPO_ROOT / "docs" / "postman"
COLLECTION = POSTMAN_DIR / "course-portal.postman_collection.json"
CONVERTER = POSTMAN_DIR / "node_modules" / ".bin" / "openapi2postmanv2"
CONVERTER_OPTIONS = "folderStrategy=Tags,requestParametersResolution=Schema"
METHODS = ("get", "post", "put", "patch", "delete")


def merged_openapi() -> dict:
    """The gateway's merged document, built from the services' apps without any server."""
    from auth_service import create_app as auth_app
    from catalog_service import create_app as catalog_app
    from favorites_service import create_app as favorites_app
    from gateway.docs import merge_specs
    from gateway.routes import ROUTES, RouteTable

    specs = {}
    for service, factory in (
        ("catalog", catalog_app),
        ("favorites", favorites_app),
        ("auth", auth_app),
    ):
        specs[service] = factory({"TESTING": True}).test_client().get("/openapi.json").get_json()
    return merge_specs(specs, RouteTable(ROUTES), [])


def operations(spec: dict) -> set[str]:
    return {
        f"{method.upper()} {path}"
        for path, item in spec["paths"].items()
        for method in item
        if method in METHODS
    }


# --- the scenario -----------------------------------------------------------------------------

STUDENT_PASSWORD = "correct horse 42"


@dataclass
class Step:
    name: str
    operation: str  # "METHOD /path/{var}" as in the OpenAPI document
    status: int
    token: str | None = None  # collection variable holding the bearer token
    path: dict[str, str] = field(default_factory=dict)
    query: list[tuple[str, str]] = field(default_factory=list)
    body: object = None  # JSON; "{{name:raw}}" strings become unquoted variables
    upload: str | None = None  # a file under docs/postman sent as the multipart field "file"
    tests: str = ""
    prerequest: str = ""


FOLDERS: list[tuple[str, list[Step]]] = [
    (
        "1. Accounts",
        [
            Step(
                "Register a student",
                "POST /api/auth/register",
                201,
                prerequest="save('studentEmail',"
                " `student-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.edu`);",
                body={
                    "email": "{{studentEmail}}",
                    "password": STUDENT_PASSWORD,
                    "full_name": "Анна Студентова",
                },
                tests="""
const user = pm.response.json();
pm.test('a student with the given email', () => {
  pm.expect(user.email).to.eql(v('studentEmail'));
  pm.expect(user.full_name).to.eql('Анна Студентова');
  pm.expect(user.role).to.eql('student');
  pm.expect(user.is_active).to.be.true;
  pm.expect(user).to.not.have.property('password_hash');
});
save('studentId', user.id);
""",
            ),
            Step(
                "Register the same email again (any case)",
                "POST /api/auth/register",
                409,
                body={
                    "email": "{{studentEmailUpper}}",
                    "password": STUDENT_PASSWORD,
                    "full_name": "Anna",
                },
                prerequest="save('studentEmailUpper', v('studentEmail').toUpperCase());",
            ),
            Step(
                "Log in as the student",
                "POST /api/auth/login",
                200,
                body={"email": "{{studentEmail}}", "password": STUDENT_PASSWORD},
                tests="""
const pair = pm.response.json();
pm.test('a bearer token pair', () => {
  pm.expect(pair.token_type).to.eql('Bearer');
  pm.expect(pair.expires_in).to.be.above(0);
  pm.expect(pair.access_token.split('.')).to.have.lengthOf(3);
  pm.expect(pair.refresh_token).to.be.a('string').and.not.empty;
});
save('studentToken', pair.access_token);
save('studentRefresh', pair.refresh_token);
""",
            ),
            Step(
                "Log in with a wrong password",
                "POST /api/auth/login",
                401,
                body={"email": "{{studentEmail}}", "password": "not the password"},
            ),
            Step(
                "Who am I (student)",
                "GET /api/auth/me",
                200,
                token="studentToken",
                tests="""
const me = pm.response.json();
pm.test('the student, with the student permissions', () => {
  pm.expect(me.id).to.eql(v('studentId'));
  pm.expect(me.role).to.eql('student');
  pm.expect(me.permissions).to.include.members(['favorites:write']);
  pm.expect(me.permissions).to.not.include('materials:write');
});
""",
            ),
            Step(
                "Refresh the token pair",
                "POST /api/auth/refresh",
                200,
                body={"refresh_token": "{{studentRefresh}}"},
                tests="""
const pair = pm.response.json();
pm.test('a new refresh token (rotation)', () => {
  pm.expect(pair.refresh_token).to.not.eql(v('studentRefresh'));
});
save('studentRefreshSpent', v('studentRefresh'));
save('studentToken', pair.access_token);
save('studentRefresh', pair.refresh_token);
""",
            ),
            Step(
                "The public signing keys",
                "GET /api/auth/jwks.json",
                200,
                tests="""
const keys = pm.response.json().keys;
pm.test('RS256 signing keys with ids', () => {
  pm.expect(keys).to.be.an('array').that.is.not.empty;
  keys.forEach((key) => {
    pm.expect(key.kty).to.eql('RSA');
    pm.expect(key.kid).to.be.a('string').and.not.empty;
    pm.expect(key).to.not.have.any.keys('d', 'p', 'q');
  });
});
""",
            ),
            Step(
                "Log in as the admin",
                "POST /api/auth/login",
                200,
                body={"email": "{{adminEmail}}", "password": "{{adminPassword}}"},
                tests="save('adminToken', pm.response.json().access_token);",
            ),
            Step(
                "Log in as the teacher",
                "POST /api/auth/login",
                200,
                body={"email": "{{teacherEmail}}", "password": "{{teacherPassword}}"},
                tests="save('teacherToken', pm.response.json().access_token);",
            ),
            Step(
                "Who am I (teacher)",
                "GET /api/auth/me",
                200,
                token="teacherToken",
                tests="""
const me = pm.response.json();
pm.test('a teacher who may write materials', () => {
  pm.expect(me.role).to.eql('teacher');
  pm.expect(me.permissions).to.include('materials:write');
});
save('teacherId', me.id);
""",
            ),
        ],
    ),
    (
        "2. Browse the catalog",
        [
            Step(
                "Courses grouped by semester",
                "GET /api/semesters",
                200,
                tests="""
const semesters = pm.response.json();
pm.test('semesters in order, titled in Russian, none empty', () => {
  pm.expect(semesters).to.not.be.empty;
  semesters.forEach((group, index) => {
    pm.expect(group.title).to.eql(`${group.semester}-й семестр`);
    pm.expect(group.courses).to.not.be.empty;
    group.courses.forEach((course) => pm.expect(course.semester).to.eql(group.semester));
    if (index > 0) pm.expect(group.semester).to.be.above(semesters[index - 1].semester);
  });
});
const courses = semesters.flatMap((group) => group.courses);
save('courseId', courses[0].id);
save('secondCourseId', courses[1].id);
save('semester', semesters[0].semester);
const word = courses[0].name.split(/[^\\p{L}]+/u).find((part) => part.length >= 4);
save('searchWord', word.toLowerCase());
""",
            ),
            Step(
                "The kinds of material",
                "GET /api/material-types",
                200,
                tests="""
pm.test('lectures, seminars and labs, in order', () => {
  const types = pm.response.json();
  pm.expect(types.map((t) => t.code)).to.eql(['lecture', 'seminar', 'lab']);
  pm.expect(types[0].group_label).to.eql('Лекции');
});
""",
            ),
            Step(
                "Search courses and materials",
                "GET /api/search",
                200,
                query=[("query", "{{searchWord}}"), ("limit", "5")],
                tests="""
const hits = pm.response.json();
pm.test('hits, best first, each with a marked snippet', () => {
  pm.expect(hits).to.not.be.empty;
  pm.expect(hits.length).to.be.at.most(5);
  hits.forEach((hit) => {
    pm.expect(['course', 'material']).to.include(hit.kind);
    pm.expect(hit.snippet).to.be.an('array');
  });
  for (let i = 1; i < hits.length; i++) pm.expect(hits[i - 1].score >= hits[i].score).to.be.true;
});
""",
            ),
            Step(
                "All courses",
                "GET /api/courses",
                200,
                tests="""
const courses = pm.response.json();
pm.test('ordered by semester, then name', () => {
  for (let i = 1; i < courses.length; i++) {
    const [a, b] = [courses[i - 1], courses[i]];
    pm.expect(a.semester <= b.semester).to.be.true;
  }
});
pm.test('no pagination header without page', () => pm.response.to.not.have.header('X-Pagination'));
""",
            ),
            Step(
                "Courses of one semester, paginated",
                "GET /api/courses",
                200,
                query=[("semester", "{{semester}}"), ("page", "1"), ("page_size", "2")],
                tests="""
const courses = pm.response.json();
pm.test('only that semester, at most one page', () => {
  pm.expect(courses.length).to.be.within(1, 2);
  courses.forEach((c) => pm.expect(c.semester).to.eql(n('semester')));
});
pm.test('pagination metadata', () => {
  const meta = JSON.parse(pm.response.headers.get('X-Pagination'));
  pm.expect(meta.page).to.eql(1);
  pm.expect(meta.total).to.be.at.least(courses.length);
});
""",
            ),
            Step(
                "One course",
                "GET /api/courses/{course_id}",
                200,
                path={"course_id": "{{courseId}}"},
                tests="""
const course = pm.response.json();
pm.test('the course asked for, with teachers and material counts', () => {
  pm.expect(course.id).to.eql(n('courseId'));
  pm.expect(course.teacher_ids).to.be.an('array');
  pm.expect(course.material_counts).to.be.an('object');
});
pm.test('cacheable with revalidation', () => {
  pm.response.to.have.header('ETag');
  pm.expect(pm.response.headers.get('Cache-Control')).to.include('no-cache');
});
""",
            ),
            Step(
                "Search",
                "GET /api/courses/search",
                200,
                query=[("query", "{{searchWord}}")],
                tests="""
const found = pm.response.json();
const word = v('searchWord').replace(/ё/g, 'е');
const fold = (text) => (text || '').toLowerCase().replace(/ё/g, 'е');
pm.test('every result contains the word, the first course among them', () => {
  pm.expect(found.map((c) => c.id)).to.include(n('courseId'));
  found.forEach((c) => pm.expect(fold(c.name) + ' ' + fold(c.description)).to.include(word));
});
""",
            ),
            Step(
                "A course's materials",
                "GET /api/courses/{course_id}/materials",
                200,
                path={"course_id": "{{courseId}}"},
                tests="""
const body = pm.response.json();
const order = ['lecture', 'seminar', 'lab'];
const rank = (code) => (order.indexOf(code) < 0 ? order.length : order.indexOf(code));
pm.test('the course, materials sorted by type then lesson', () => {
  pm.expect(body.course_id).to.eql(n('courseId'));
  pm.expect(body.materials).to.not.be.empty;
  for (let i = 1; i < body.materials.length; i++) {
    const [a, b] = [body.materials[i - 1], body.materials[i]];
    pm.expect(rank(a.material_type_code) <= rank(b.material_type_code)).to.be.true;
  }
});
save('materialId', body.materials[0].id);
""",
            ),
            Step(
                "Only the lectures (Russian label)",
                "GET /api/courses/{course_id}/materials",
                200,
                path={"course_id": "{{courseId}}"},
                query=[("type", "Лекция")],
                tests="""
pm.test('lectures only', () => {
  pm.response.json().materials.forEach((m) => pm.expect(m.material_type_code).to.eql('lecture'));
});
""",
            ),
            Step(
                "One material",
                "GET /api/courses/{course_id}/materials/{material_id}",
                200,
                path={"course_id": "{{courseId}}", "material_id": "{{materialId}}"},
                tests="""
const material = pm.response.json();
pm.test('the material asked for, with its file', () => {
  pm.expect(material.id).to.eql(n('materialId'));
  pm.expect(material.course_id).to.eql(n('courseId'));
  pm.expect(material.file_url).to.be.a('string').and.not.empty;
});
""",
            ),
        ],
    ),
    (
        "3. The Sider (favourites)",
        [
            Step(
                "Add a course",
                "POST /api/user/courses",
                201,
                token="studentToken",
                body={"course_id": "{{courseId:raw}}"},
                tests="""
pm.test('stored with its course details', () => {
  const entry = pm.response.json();
  pm.expect(entry.course_id).to.eql(n('courseId'));
  pm.expect(entry.course.id).to.eql(entry.course_id);
});
""",
            ),
            Step(
                "Add the same course again (idempotent)",
                "POST /api/user/courses",
                200,
                token="studentToken",
                body={"course_id": "{{courseId:raw}}"},
            ),
            Step(
                "Add a second course",
                "POST /api/user/courses",
                201,
                token="studentToken",
                body={"course_id": "{{secondCourseId:raw}}"},
            ),
            Step(
                "Add a course that does not exist",
                "POST /api/user/courses",
                404,
                token="studentToken",
                body={"course_id": 999999999},
            ),
            Step(
                "List the favourites",
                "GET /api/user/courses",
                200,
                token="studentToken",
                tests="""
const ids = pm.response.json().map((entry) => entry.course_id);
pm.test('both courses, in the order they were added', () => {
  pm.expect(ids).to.eql([n('courseId'), n('secondCourseId')]);
});
""",
            ),
            Step(
                "Reorder the favourites",
                "PUT /api/user/courses/order",
                200,
                token="studentToken",
                body={"course_ids": ["{{secondCourseId:raw}}", "{{courseId:raw}}"]},
                tests="""
pm.test('the new order', () => {
  const ids = pm.response.json().map((entry) => entry.course_id);
  pm.expect(ids).to.eql([n('secondCourseId'), n('courseId')]);
});
""",
            ),
            Step(
                "Remove a course",
                "DELETE /api/user/courses/{course_id}",
                204,
                token="studentToken",
                path={"course_id": "{{courseId}}"},
                tests="pm.test('no body', () => pm.expect(pm.response.text()).to.eql(''));",
            ),
            Step(
                "The favourites after removing",
                "GET /api/user/courses",
                200,
                token="studentToken",
                tests="""
pm.test('only the second course is left', () => {
  pm.expect(pm.response.json().map((e) => e.course_id)).to.eql([n('secondCourseId')]);
});
""",
            ),
        ],
    ),
    (
        "4. Teaching",
        [
            Step(
                "Create a course (admin)",
                "POST /api/courses",
                201,
                token="adminToken",
                prerequest="save('newCourseName', `Курс из Postman ${Date.now()}`);",
                body={
                    "name": "{{newCourseName}}",
                    "description": "Создан проверкой коллекции Postman.",
                    "semester": 8,
                    "is_active": True,
                },
                tests="""
const course = pm.response.json();
pm.test('the course as given', () => {
  pm.expect(course.name).to.eql(v('newCourseName'));
  pm.expect(course.semester).to.eql(8);
  pm.expect(course.teacher_ids).to.eql([]);
});
save('newCourseId', course.id);
""",
            ),
            Step(
                "Edit the course (admin)",
                "PATCH /api/courses/{course_id}",
                200,
                token="adminToken",
                path={"course_id": "{{newCourseId}}"},
                body={"description": "Описание изменено."},
                tests="""
pm.test('only the description changed', () => {
  const course = pm.response.json();
  pm.expect(course.description).to.eql('Описание изменено.');
  pm.expect(course.name).to.eql(v('newCourseName'));
});
""",
            ),
            Step(
                "Assign the teacher (admin)",
                "PUT /api/courses/{course_id}/teachers/{user_id}",
                200,
                token="adminToken",
                path={"course_id": "{{newCourseId}}", "user_id": "{{teacherId}}"},
                tests="""
pm.test('the teacher is listed', () => {
  pm.expect(pm.response.json().teacher_ids).to.include(n('teacherId'));
});
""",
            ),
            Step(
                "The teacher's courses",
                "GET /api/teacher/courses",
                200,
                token="teacherToken",
                tests="""
pm.test('include the new course', () => {
  pm.expect(pm.response.json().map((c) => c.id)).to.include(n('newCourseId'));
});
""",
            ),
            Step(
                "Add a material (teacher)",
                "POST /api/courses/{course_id}/materials",
                201,
                token="teacherToken",
                path={"course_id": "{{newCourseId}}"},
                body={
                    "lesson_number": 1,
                    "material_type_code": "lecture",
                    "title": "Введение",
                    "description": "Первая лекция.",
                    "file_url": "https://files.example.edu/intro.pdf",
                },
                tests="""
const material = pm.response.json();
pm.test('the material as given', () => {
  pm.expect(material.title).to.eql('Введение');
  pm.expect(material.material_type).to.eql('Лекция');
  pm.expect(material.course_id).to.eql(n('newCourseId'));
});
save('newMaterialId', material.id);
""",
            ),
            Step(
                "Edit the material (teacher)",
                "PATCH /api/courses/{course_id}/materials/{material_id}",
                200,
                token="teacherToken",
                path={"course_id": "{{newCourseId}}", "material_id": "{{newMaterialId}}"},
                body={"title": "Введение в курс", "material_type_code": "seminar"},
                tests="""
pm.test('the new title and type', () => {
  const material = pm.response.json();
  pm.expect(material.title).to.eql('Введение в курс');
  pm.expect(material.material_type_code).to.eql('seminar');
});
""",
            ),
            Step(
                "Preview a Markdown body (teacher)",
                "POST /api/courses/{course_id}/materials/preview",
                200,
                token="teacherToken",
                path={"course_id": "{{newCourseId}}"},
                body={"body": "# Заголовок\n\n**жирный** <script>alert(1)</script>"},
                tests="""
pm.test('rendered, with raw HTML shown as text', () => {
  const html = pm.response.json().html;
  pm.expect(html).to.include('<h1>Заголовок</h1>');
  pm.expect(html).to.include('<strong>жирный</strong>');
  pm.expect(html).to.not.include('<script>');
});
""",
            ),
            Step(
                "Write the material's body (teacher)",
                "PATCH /api/courses/{course_id}/materials/{material_id}",
                200,
                token="teacherToken",
                path={"course_id": "{{newCourseId}}", "material_id": "{{newMaterialId}}"},
                body={"body": "# Введение\n\nАлгоритм Евклида находит НОД.\n"},
                tests="""
pm.test('the body and its HTML', () => {
  const material = pm.response.json();
  pm.expect(material.body_html).to.include('<h1>Введение</h1>');
  pm.expect(material.has_text).to.be.true;
});
""",
            ),
            Step(
                "The material's text",
                "GET /api/courses/{course_id}/materials/{material_id}/text",
                200,
                path={"course_id": "{{newCourseId}}", "material_id": "{{newMaterialId}}"},
                tests="""
pm.test('the body is its text', () => {
  const text = pm.response.json();
  pm.expect(text.source).to.eql('body');
  pm.expect(text.text).to.include('Алгоритм Евклида');
  pm.expect(text.chars).to.eql(text.text.length);
});
""",
            ),
            Step(
                "Upload a file (teacher)",
                "PUT /api/courses/{course_id}/materials/{material_id}/file",
                200,
                token="teacherToken",
                path={"course_id": "{{newCourseId}}", "material_id": "{{newMaterialId}}"},
                upload="handout.md",
                tests="""
pm.test('the file is described', () => {
  const file = pm.response.json().file;
  pm.expect(file.name).to.eql('handout.md');
  pm.expect(file.content_type).to.include('text/markdown');
  pm.expect(file.sha256).to.match(/^[0-9a-f]{64}$/);
});
""",
            ),
            Step(
                "Download the file",
                "GET /api/courses/{course_id}/materials/{material_id}/file",
                200,
                path={"course_id": "{{newCourseId}}", "material_id": "{{newMaterialId}}"},
                tests="""
pm.test('an attachment, never sniffed', () => {
  pm.expect(pm.response.headers.get('Content-Disposition')).to.match(/^attachment;/);
  pm.response.to.have.header('X-Content-Type-Options', 'nosniff');
  pm.response.to.have.header('ETag');
  pm.expect(pm.response.text()).to.include('Раздаточный материал');
});
""",
            ),
            Step(
                "Remove the file (teacher)",
                "DELETE /api/courses/{course_id}/materials/{material_id}/file",
                204,
                token="teacherToken",
                path={"course_id": "{{newCourseId}}", "material_id": "{{newMaterialId}}"},
            ),
            Step(
                "A student may not add materials",
                "POST /api/courses/{course_id}/materials",
                403,
                token="studentToken",
                path={"course_id": "{{newCourseId}}"},
                body={
                    "lesson_number": 2,
                    "material_type_code": "lab",
                    "title": "Не положено",
                    "file_url": "https://files.example.edu/nope.pdf",
                },
            ),
            Step(
                "Delete the material (teacher)",
                "DELETE /api/courses/{course_id}/materials/{material_id}",
                204,
                token="teacherToken",
                path={"course_id": "{{newCourseId}}", "material_id": "{{newMaterialId}}"},
            ),
            Step(
                "The deleted material is gone",
                "GET /api/courses/{course_id}/materials/{material_id}",
                404,
                path={"course_id": "{{newCourseId}}", "material_id": "{{newMaterialId}}"},
            ),
            Step(
                "It waits in the course's recycle bin (teacher)",
                "GET /api/courses/{course_id}/recycle-bin",
                200,
                token="teacherToken",
                path={"course_id": "{{newCourseId}}"},
                tests="""
pm.test('the deleted material is listed', () => {
  pm.expect(pm.response.json().map((m) => m.id)).to.include(n('newMaterialId'));
});
""",
            ),
            Step(
                "Restore the material (teacher)",
                "POST /api/courses/{course_id}/materials/{material_id}/restore",
                200,
                token="teacherToken",
                path={"course_id": "{{newCourseId}}", "material_id": "{{newMaterialId}}"},
                tests="""
pm.test('the material is back', () => pm.expect(pm.response.json().id).to.eql(n('newMaterialId')));
""",
            ),
            Step(
                "Unassign the teacher (admin)",
                "DELETE /api/courses/{course_id}/teachers/{user_id}",
                204,
                token="adminToken",
                path={"course_id": "{{newCourseId}}", "user_id": "{{teacherId}}"},
            ),
            Step(
                "Deactivate the course (admin)",
                "PATCH /api/courses/{course_id}",
                200,
                token="adminToken",
                path={"course_id": "{{newCourseId}}"},
                body={"is_active": False},
                tests="""
pm.test('inactive', () => pm.expect(pm.response.json().is_active).to.be.false);
""",
            ),
            Step(
                "A deactivated course is not shown",
                "GET /api/courses/{course_id}",
                404,
                path={"course_id": "{{newCourseId}}"},
            ),
            Step(
                "Delete the course (admin)",
                "DELETE /api/courses/{course_id}",
                204,
                token="adminToken",
                path={"course_id": "{{newCourseId}}"},
            ),
            Step(
                "Deleted courses (admin)",
                "GET /api/recycle-bin/courses",
                200,
                token="adminToken",
                tests="""
pm.test('the deleted course is listed', () => {
  pm.expect(pm.response.json().map((c) => c.id)).to.include(n('newCourseId'));
});
""",
            ),
            Step(
                "Restore the course (admin)",
                "POST /api/courses/{course_id}/restore",
                200,
                token="adminToken",
                path={"course_id": "{{newCourseId}}"},
                tests="""
pm.test('the course is back', () => pm.expect(pm.response.json().id).to.eql(n('newCourseId')));
""",
            ),
        ],
    ),
    (
        "5. Administration",
        [
            Step(
                "Find the student (admin)",
                "GET /api/auth/users",
                200,
                token="adminToken",
                query=[("query", "{{studentEmail}}")],
                tests="""
pm.test('exactly the student', () => {
  const users = pm.response.json();
  pm.expect(users.map((u) => u.id)).to.eql([n('studentId')]);
});
""",
            ),
            Step(
                "Make the student a teacher (admin)",
                "PATCH /api/auth/users/{user_id}",
                200,
                token="adminToken",
                path={"user_id": "{{studentId}}"},
                body={"role": "teacher"},
                tests="""
pm.test('now a teacher', () => pm.expect(pm.response.json().role).to.eql('teacher'));
""",
            ),
            Step(
                "Look up one user (admin), as the catalog does before assigning a teacher",
                "GET /api/auth/users/{user_id}",
                200,
                token="adminToken",
                path={"user_id": "{{studentId}}"},
                tests="""
pm.test('the user, active', () => {
  const user = pm.response.json();
  pm.expect(user.id).to.eql(n('studentId'));
  pm.expect(user.is_active).to.eql(true);
});
""",
            ),
            Step(
                "A student may not list users",
                "GET /api/auth/users",
                403,
                token="studentToken",
            ),
        ],
    ),
    (
        "6. Errors",
        [
            Step("The Sider needs a token", "GET /api/user/courses", 401),
            Step(
                "A forged token is refused",
                "GET /api/auth/me",
                401,
                token="forgedToken",
                prerequest="save('forgedToken',"
                " 'eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIxIn0.');",
            ),
            Step("Search without a query", "GET /api/courses/search", 400),
            Step(
                "Search with a huge id-like junk query",
                "GET /api/courses/search",
                400,
                query=[("query", "x" * 101)],
            ),
            Step(
                "A course that does not exist",
                "GET /api/courses/{course_id}",
                404,
                path={"course_id": "99999999999999999999"},
            ),
            Step(
                "An unknown material type",
                "GET /api/courses/{course_id}/materials",
                400,
                path={"course_id": "{{courseId}}"},
                query=[("type", "video")],
            ),
            Step(
                "A student may not create courses",
                "POST /api/courses",
                403,
                token="studentToken",
                body={"name": "Нет", "semester": 1},
            ),
            Step(
                "An invalid course body",
                "POST /api/courses",
                422,
                token="adminToken",
                body={"name": "", "semester": -1},
            ),
        ],
    ),
    (
        "7. Sign out",
        [
            Step(
                "Log out",
                "POST /api/auth/logout",
                204,
                body={"refresh_token": "{{studentRefresh}}"},
            ),
            Step(
                "A revoked refresh token is refused",
                "POST /api/auth/refresh",
                401,
                body={"refresh_token": "{{studentRefresh}}"},
            ),
            Step(
                "A spent refresh token is refused",
                "POST /api/auth/refresh",
                401,
                body={"refresh_token": "{{studentRefreshSpent}}"},
            ),
            Step(
                "Log out everywhere (admin)",
                "POST /api/auth/logout-all",
                204,
                token="adminToken",
            ),
        ],
    ),
]


# --- building the collection ------------------------------------------------------------------


def convert(spec: dict) -> dict:
    if not CONVERTER.exists():
        sys.exit(f"{CONVERTER} is missing: run `npm ci` in {POSTMAN_DIR.relative_to(REPO_ROOT)}")
    with tempfile.TemporaryDirectory() as directory:
        source, target = Path(directory, "openapi.json"), Path(directory, "collection.json")
        source.write_text(json.dumps(spec, ensure_ascii=False))
        subprocess.run(
            [str(CONVERTER), "-s", str(source), "-o", str(target), "-O", CONVERTER_OPTIONS],
            check=True,
            capture_output=True,
        )
        return json.loads(target.read_text())


def _requests_by_operation(collection: dict) -> dict[str, dict]:
    found = {}

    def walk(items):
        for item in items:
            if "item" in item:
                walk(item["item"])
                continue
            request = item["request"]
            segments = [
                "{" + part[1:] + "}" if part.startswith(":") else part
                for part in request["url"]["path"]
            ]
            found[f"{request['method']} /{'/'.join(segments)}"] = request

    walk(collection["item"])
    return found


def _resolve(schema, components: dict, seen: tuple = ()):
    """The schema with every $ref inlined, for Postman's validator."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            if name in seen:
                return {}
            return _resolve(components[name], components, (*seen, name))
        return {key: _resolve(value, components, seen) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_resolve(value, components, seen) for value in schema]
    return schema


def _response_schema(spec: dict, step: Step) -> dict | None:
    method, path = step.operation.split(" ", 1)
    response = spec["paths"][path][method.lower()]["responses"].get(str(step.status), {})
    schema = response.get("content", {}).get("application/json", {}).get("schema")
    if schema is None:
        return None
    return _resolve(schema, spec.get("components", {}).get("schemas", {}))


def _body(body) -> str:
    text = json.dumps(body, ensure_ascii=False, indent=2)
    # "{{name:raw}}" marks a variable that holds a number: unquoted in the JSON.
    while ':raw}}"' in text:
        start = text.index('"{{')
        end = text.index(':raw}}"', start)
        if "\n" in text[start:end]:
            raise ValueError("raw variables must be whole JSON strings")
        text = text[:start] + "{{" + text[start + 3 : end] + "}}" + text[end + 7 :]
    return text


# Short names for the collection variables, defined at the top of every script.
SCRIPT_HELPERS = [
    "const v = (name) => pm.collectionVariables.get(name);",
    "const n = (name) => Number(pm.collectionVariables.get(name));",
    "const save = (name, value) => pm.collectionVariables.set(name, value);",
]


def _test_script(step: Step, schema: dict | None) -> list[str]:
    lines = [
        *SCRIPT_HELPERS,
        f"pm.test('status {step.status}', () => pm.response.to.have.status({step.status}));",
        "pm.test('a request id comes back', () => pm.response.to.have.header('X-Request-ID'));",
    ]
    if step.status >= 400:
        lines += [
            "pm.test('the common JSON error shape', () => {",
            "  const error = pm.response.json();",
            f"  pm.expect(error.code).to.eql({step.status});",
            "  pm.expect(error.status).to.be.a('string').and.not.empty;",
            "  pm.expect(error.message).to.be.a('string').and.not.empty;",
            "});",
        ]
    elif schema is not None:
        lines.append(
            "pm.test('the body matches the OpenAPI response schema', () => "
            f"pm.response.to.have.jsonSchema({json.dumps(schema, ensure_ascii=False)}));"
        )
    lines += [line for line in step.tests.strip().splitlines() if line]
    return lines


def _item(step: Step, template: dict, spec: dict) -> dict:
    method = step.operation.split(" ", 1)[0]
    url = template["url"]
    query = "?" + "&".join(f"{key}={value}" for key, value in step.query) if step.query else ""
    request = {
        "method": method,
        "description": template.get("description") or {},
        "url": {
            "raw": "{{baseUrl}}/" + "/".join(url["path"]) + query,
            "host": ["{{baseUrl}}"],
            "path": url["path"],
            "query": [{"key": key, "value": value} for key, value in step.query],
            "variable": [{"key": key, "value": value} for key, value in step.path.items()],
        },
        "header": [{"key": "Accept", "value": "application/json"}],
    }
    expected_variables = {part[1:] for part in url["path"] if part.startswith(":")}
    if expected_variables != set(step.path):
        raise ValueError(f"{step.name}: path variables {sorted(expected_variables)} needed")
    if step.token:
        request["auth"] = {
            "type": "bearer",
            "bearer": [{"key": "token", "value": "{{" + step.token + "}}", "type": "string"}],
        }
    else:
        request["auth"] = {"type": "noauth"}
    if step.upload is not None:
        request["body"] = {
            "mode": "formdata",
            "formdata": [{"key": "file", "type": "file", "src": step.upload}],
        }
    if step.body is not None:
        request["header"].append({"key": "Content-Type", "value": "application/json"})
        request["body"] = {
            "mode": "raw",
            "raw": _body(step.body),
            "options": {"raw": {"language": "json"}},
        }
    events = [
        {
            "listen": "test",
            "script": {
                "type": "text/javascript",
                "exec": _test_script(step, _response_schema(spec, step)),
            },
        }
    ]
    if step.prerequest:
        events.insert(
            0,
            {
                "listen": "prerequest",
                "script": {
                    "type": "text/javascript",
                    "exec": [*SCRIPT_HELPERS, *step.prerequest.strip().splitlines()],
                },
            },
        )
    return {"name": step.name, "event": events, "request": request}


def build(spec: dict, converted: dict) -> dict:
    templates = _requests_by_operation(converted)
    covered = {step.operation for _folder, steps in FOLDERS for step in steps}
    if missing := operations(spec) - covered:
        raise SystemExit(f"operations without a step in the scenario: {sorted(missing)}")
    if unknown := covered - set(templates):
        raise SystemExit(f"steps for operations the API does not have: {sorted(unknown)}")
    return {
        "info": {
            "name": "Course portal API",
            "description": (
                "Every operation of the portal's API, through the gateway, as one scenario: "
                "accounts, browsing, the Sider, teaching, administration, errors, sign-out. "
                "Generated by scripts/build-postman-collection.py from the merged OpenAPI with "
                "openapi-to-postmanv2; run it with scripts/run-newman.sh. Needs the variables "
                "baseUrl, adminEmail, adminPassword, teacherEmail, teacherPassword."
            ),
            "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json",
        },
        "item": [
            {
                "name": folder,
                "item": [_item(step, templates[step.operation], spec) for step in steps],
            }
            for folder, steps in FOLDERS
        ],
        "variable": [
            {"key": "baseUrl", "value": "http://127.0.0.1:8000"},
        ],
    }


def main() -> int:
    spec = merged_openapi()
    collection = build(spec, convert(spec))
    COLLECTION.write_text(json.dumps(collection, ensure_ascii=False, indent=2) + "\n")
    requests = sum(len(folder["item"]) for folder in collection["item"])
    print(f"wrote {COLLECTION.relative_to(REPO_ROOT)}: {requests} requests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
