"""URL converters every service shares."""

from werkzeug.routing import IntegerConverter

# Ids are PostgreSQL `integer` (user ids `bigint`); anything larger can never exist and must not
# reach the database, where it would overflow.
MAX_ID = 2**31 - 1
MAX_USER_ID = 2**63 - 1


class IdConverter(IntegerConverter):
    """`<id:...>`: a positive integer in ASCII digits that fits its column, else the route does
    not match (404). Werkzeug's `int` also takes other scripts' digits ("١") and any length."""

    regex = r"[0-9]{1,19}"

    def __init__(self, map, max: int = MAX_ID):
        super().__init__(map, min=1, max=max)
