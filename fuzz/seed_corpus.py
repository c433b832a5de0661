#!/usr/bin/env python3
"""Writes the fuzz targets' starting corpus from the sample events in events/ plus a few
hand-made edge cases. Run from the repository root; the output is checked in under fuzz/corpus."""
import base64, glob, hashlib, hmac, json, os

def frame(part: bytes) -> bytes:
    return bytes([min(len(part), 255)]) + part[:255]

def write(target: str, data: bytes) -> None:
    folder = f"fuzz/corpus/{target}"
    os.makedirs(folder, exist_ok=True)
    with open(f"{folder}/{hashlib.sha1(data).hexdigest()}", "wb") as out:
        out.write(data)

def body_of(event) -> bytes:
    body = event.get("body") or ""
    return base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()

def content_type_of(event) -> bytes:
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    return headers.get("content-type", "").encode()

for path in sorted(glob.glob("events/org-user-permissions/*.json")):
    event = json.load(open(path))
    segment = ((event.get("pathParameters") or {}).get("user_uuid") or "").encode()
    write("org_request", frame(content_type_of(event)) + frame(segment) + body_of(event)[:4096])

for path in sorted(glob.glob("events/user-add-permissions/*.json")):
    event = json.load(open(path))
    write("admin_request", frame(content_type_of(event)) + body_of(event)[:4096])

# Authorization headers: made-up keys and a JWT signed with a key used nowhere else, never the
# demo or test credentials.
def b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")

header = b64(b'{"alg":"HS256","typ":"JWT"}')
claims = b64(b'{"sub":"64b000000000000000000001","exp":4102444800}')
signature = b64(hmac.new(b"corpus-only-key-not-used-anywhere", header + b"." + claims, hashlib.sha256).digest())
jwt = header + b"." + claims + b"." + signature
for value in [
    b"Token corpus0example0key",
    b"token   corpus0example0key",
    b"Token\tcorpus0example0key",
    b"Token a\nToken b",
    b"Bearer " + jwt,
    b"bearer " + header + b"." + claims + b".",
    b"Bearer " + b64(b'{"alg":"none"}') + b"." + claims + b".",
    b"Basic dXNlcjpwYXNz",
]:
    write("authorization", value)

# The implication rule: a requested permission, then what the user holds.
for case in [
    b"compass.m.a\ncompass.m.*",
    b"compass.m\ncompass.m.*\ncompass.m",
    b"compass.mm.a\ncompass.m.*",
    b"compass.m.*\ncompass.m\ncompass.m.a",
    b"compass.dashboard.overview\ncompass.dashboard.*\ncompass.dashboard.overview\nCompass.Dashboard.*",
    b"compass.users.invite\ncompass.users.*\n\xff\xfe\ncompass.*",
]:
    write("implies", case)

# Authorizer events: the sample events with the corpus-only JWT in place of the demo one, behind
# route maps of each shape (one permission, a list, $default) and a few that init refuses.
route_maps = [
    b'{"GET /dashboard/overview": "compass.dashboard.overview", "POST /users/invitations": ["compass.users.invite", "compass.users.list"]}',
    b'{"$default": "compass.reports.*"}',
    b'{"GET /reports/{id}": ["compass.reports.view", "compass.reports.view"]}',
    b'{"GET /a": []}',
    b'{"GET /a": "compass.A"}',
]
for path in sorted(glob.glob("events/permissions-authorizer/*.json")):
    event = json.load(open(path))
    if "authorization" in (event.get("headers") or {}):
        event["headers"]["authorization"] = "Bearer " + jwt.decode()
        event["identitySource"] = ["Bearer " + jwt.decode()]
    for route_map in route_maps:
        write("authorizer_event", frame(route_map) + json.dumps(event).encode())
for route_map, event in [
    (route_maps[1], b'[]'),
    (route_maps[1], b'{"routeKey": 5, "headers": []}'),
    (route_maps[1], b'{"routeKey": "$default", "headers": {"Authorization": "Bearer a", "authorization": "Bearer b"}}'),
]:
    write("authorizer_event", frame(route_map) + event)
