"""The least a request through gunicorn can cost: a WSGI app that answers every request with a
fixed JSON body of one course's size, run with the gateway's gunicorn settings. Its CPU per
request is what the gateway pays before any code of its own runs."""

BODY = b'{"id": 1, "name": "' + b"x" * 560 + b'"}'
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def app(environ, start_response):
    start_response("200 OK", HEADERS)
    return [BODY]
