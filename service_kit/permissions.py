"""The permission names, one list for routes and tests.

Roles and their permissions are data in auth's tables, seeded by its migrations; a test checks
that the migrated database grants exactly `ROLE_PERMISSIONS`, so a renamed permission cannot slip
through. Catalog reads are public, so there is no permission to read courses.
"""

FAVORITES_WRITE = "favorites:write"
MATERIALS_WRITE = "materials:write"  # for the courses the caller teaches
COURSES_ADMIN = "courses:admin"
USERS_ADMIN = "users:admin"
ASSISTANT_USE = "assistant:use"  # ask a course's assistant
ASSISTANT_BUILD = "assistant:build"  # build its datasets and models, for the courses one teaches

ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "student": (FAVORITES_WRITE, ASSISTANT_USE),
    "teacher": (FAVORITES_WRITE, MATERIALS_WRITE, ASSISTANT_USE, ASSISTANT_BUILD),
    "admin": (
        FAVORITES_WRITE,
        MATERIALS_WRITE,
        COURSES_ADMIN,
        USERS_ADMIN,
        ASSISTANT_USE,
        ASSISTANT_BUILD,
    ),
}
