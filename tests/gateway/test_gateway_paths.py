"""Raw request targets the edge forwards, and the hostile ones it refuses."""

import pytest

from gateway.paths import is_safe_target, split_target

HOSTILE_TARGETS = [
    "/api/courses/../teacher/courses",
    "/api/courses/..",
    "/api/courses/.",
    "/api/courses/./1",
    "/api/courses/%2e%2e/teacher",
    "/api/courses/%2E%2E/teacher",
    "/api/courses/.%2e/teacher",
    "/api/courses/%2e./teacher",
    "/api/courses/%2e/1",
    "/api/courses/%252e%252e/teacher",
    "/api/courses/%25252e%25252e/teacher",
    "/api/courses/%%32%65%%32%65/teacher",
    "/api/courses/1%2f..%2fteacher",
    "/api/courses/1%2F2",
    "/api/courses/1%252f2",
    "/api/courses//evil.example",
    "//evil.example/api/courses",
    "/api/courses\\..\\teacher",
    "/api/courses/%5c..%5cteacher",
    "/api/courses/%5C",
    "/api/courses@evil.example",
    "/api/courses/%40evil",
    "/api/courses/1%00",
    "/api/courses/1\x00",
    "/api/courses/1\r\nX-User-Id: 1",
    "/api/courses/1%0d%0aX-Injected: 1",
    "/api/courses/1\t",
    "/api/courses/1 2",
    "/api/courses/\x7f",
    "/api/courses/\u00e9",
    "/api/courses#fragment",
    "http://evil.example/api/courses",
    "api/courses",
    "*",
    "",
]

SAFE_TARGETS = [
    "/api/courses",
    "/api/courses/",
    "/api/courses/12/materials?type=lecture",
    "/api/courses/search?query=%D0%BB%D0%B5%D0%BA%D1%86%D0%B8%D1%8F&limit=5",
    "/api/courses/search?query=a%2Fb",  # the query is the service's business, not a path
    "/api/courses/search?query=..%2F..",
    "/api/courses?page=2&page_size=10",
    "/api/courses/1/materials/...",
    "/api/courses/a.b",
    "/api/auth/jwks.json",
    "/api/courses/%D0%9A",
]


@pytest.mark.parametrize("target", HOSTILE_TARGETS)
def test_hostile_targets_are_refused(target):
    assert not is_safe_target(target)


@pytest.mark.parametrize("target", SAFE_TARGETS)
def test_ordinary_targets_pass(target):
    assert is_safe_target(target)


def test_target_splits_into_path_and_query_with_its_mark():
    assert split_target("/api/courses?semester=1") == ("/api/courses", "?semester=1")
    assert split_target("/api/courses") == ("/api/courses", "")
    assert split_target("/api/courses?a=1?b=2") == ("/api/courses", "?a=1?b=2")
