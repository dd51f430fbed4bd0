"""The Sider's HTTP endpoints: /api/user/courses for the caller named by the access token."""

from flask.views import MethodView

from service_kit import get_session
from service_kit.api import Blueprint
from service_kit.auth import current_principal, require_auth, require_permission
from service_kit.db import get_database
from service_kit.permissions import FAVORITES_WRITE

from . import services
from .catalog import get_catalog
from .schemas import FavoriteCreateSchema, FavoriteOrderSchema, FavoriteSchema

# "unavailable" when the catalog could not be asked: the list is complete, its details are not.
CATALOG_STATUS_HEADER = "X-Catalog-Status"
CATALOG_STATUS_DOC = {
    CATALOG_STATUS_HEADER: {
        "description": "ok, or unavailable when the catalog could not be asked "
        "(every course is then null and every available null)",
        "schema": {"type": "string", "enum": ["ok", "unavailable"]},
    }
}

blp = Blueprint(
    "favorites",
    __name__,
    url_prefix="/api/user/courses",
    description="The caller's favourite courses (the Sider).",
)


@blp.after_request
def _not_cached(response):
    # One user's list: no shared cache may keep it, no browser may show a stale one.
    response.headers["Cache-Control"] = "no-store"
    return response


def _sider_response(sider: services.Sider):
    status = "ok" if sider.catalog_available else "unavailable"
    return sider.favorites, 200, {CATALOG_STATUS_HEADER: status}


@blp.route("")
class Favorites(MethodView):
    @require_auth
    @blp.response(200, FavoriteSchema(many=True), headers=CATALOG_STATUS_DOC)
    def get(self):
        """List the caller's favourite courses in their saved order."""
        user_id = current_principal().user_id
        return _sider_response(services.list_favorites(get_database(), get_catalog(), user_id))

    @require_permission(FAVORITES_WRITE)
    @blp.arguments(FavoriteCreateSchema)
    @blp.response(201, FavoriteSchema, description="Added at the end of the Sider")
    @blp.alt_response(200, schema=FavoriteSchema, description="It was already a favourite")
    @blp.alt_response(404, description="No active course with that id")
    @blp.alt_response(409, description="The Sider is full")
    @blp.alt_response(503, description="The catalog cannot be asked; nothing was stored")
    def post(self, body):
        """Add a course to the caller's favourites."""
        user_id = current_principal().user_id
        favorite, created = services.add_favorite(
            get_session(), get_catalog(), user_id, body["course_id"]
        )
        return favorite, 201 if created else 200


@blp.route("/<id:course_id>")
class FavoriteCourse(MethodView):
    @require_permission(FAVORITES_WRITE)
    @blp.response(204)
    def delete(self, course_id):
        """Remove a course from the caller's favourites (also fine when it is not there)."""
        services.remove_favorite(get_session(), current_principal().user_id, course_id)


@blp.route("/order")
class FavoriteOrder(MethodView):
    @require_permission(FAVORITES_WRITE)
    @blp.arguments(FavoriteOrderSchema)
    @blp.response(200, FavoriteSchema(many=True), headers=CATALOG_STATUS_DOC)
    def put(self, body):
        """Save a new order of the caller's favourites; answers with the reordered list."""
        user_id = current_principal().user_id
        services.reorder_favorites(get_session(), user_id, body["course_ids"])
        return _sider_response(services.list_favorites(get_database(), get_catalog(), user_id))
