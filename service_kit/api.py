"""The flask-smorest Blueprint every service uses, with a body parser that never lets bad JSON
become a 500."""

import json

import flask_smorest
from webargs.flaskparser import FlaskParser


class SafeJsonParser(FlaskParser):
    """webargs turns only JSONDecodeError into a 400; json.loads also raises a plain ValueError
    (e.g. an integer of more than 4,300 digits), which would otherwise surface as a 500."""

    def _raw_load_json(self, req):
        try:
            return super()._raw_load_json(req)
        except json.JSONDecodeError:
            raise
        except ValueError as error:
            # A non-empty doc: webargs reads an empty one as "no body at all".
            raise json.JSONDecodeError(str(error), "<request body>", 0) from error


# `@blp.arguments(XQueryArgsSchema, **QUERY_ARGS)`: a bad query string is a 400, not a 422.
QUERY_ARGS = {"location": "query", "error_status_code": 400}


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = SafeJsonParser()
