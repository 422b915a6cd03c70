"""Self-tests for the fake Google Sheets server: the requests sheetai sends, over real HTTP."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import google.auth.exceptions
import google.auth.transport.requests
import pytest
import requests
from google.oauth2 import service_account

from devservers.sheets import FakeSheets, make_service_account

HEADER = ["id", "text", "channel", "date", "label", "score"]
ROWS = [HEADER] + [[i, f"review {i}", "email", "2024-05-01", "", ""] for i in range(1, 201)]
BOBS = "Bob's reviews 2024"
OTHER = "someone-else@test-project.iam.gserviceaccount.com"
SCOPES = ["https://www.googleapis.com/auth/spreadsheets"]


class Api:
    """Plain HTTP calls to one spreadsheet, signed in with a bearer token."""

    def __init__(self, server: FakeSheets, sid: str, email: str) -> None:
        self.base = f"{server.url}/v4/spreadsheets/{sid}"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {server.issue_token(email)}"

    def get(self, suffix: str = "", **params: Any) -> requests.Response:
        return self.session.get(self.base + suffix, params=params, timeout=10)

    def post(self, suffix: str, body: dict[str, Any]) -> requests.Response:
        return self.session.post(self.base + suffix, json=body, timeout=10)

    def write(self, option: str = "RAW", **ranges: Any) -> requests.Response:
        data = [{"range": r, "values": v} for r, v in ranges.items()]
        return self.post("/values:batchUpdate", {"valueInputOption": option, "data": data})


@pytest.fixture
def server() -> Iterator[FakeSheets]:
    with FakeSheets() as srv:
        yield srv


@pytest.fixture
def sid(server: FakeSheets) -> str:
    return server.add_spreadsheet(
        "Reviews",
        {"Feedback": ROWS, BOBS: [["who", "says"], ["bob", "hi"], [], [], []]},
        share_with=["me@x"],
    )


@pytest.fixture
def api(server: FakeSheets, sid: str) -> Iterator[Api]:
    client = Api(server, sid, "me@x")
    yield client
    client.session.close()


def test_the_service_account_flow_of_google_auth_gets_a_token(server: FakeSheets) -> None:
    info = make_service_account(server)
    credentials = service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
    credentials.refresh(google.auth.transport.requests.Request())
    assert credentials.token in server.tokens

    forged = {**info, "private_key": make_service_account(server, email=OTHER)["private_key"]}
    credentials = service_account.Credentials.from_service_account_info(forged, scopes=SCOPES)
    with pytest.raises(google.auth.exceptions.RefreshError, match="Invalid JWT Signature"):
        credentials.refresh(google.auth.transport.requests.Request())


def test_metadata_has_google_shape(server: FakeSheets, sid: str, api: Api) -> None:
    server.merge(sid, "Feedback", "C3:C4")
    meta = api.get().json()
    assert meta["spreadsheetId"] == sid
    assert meta["sheets"][0]["properties"] == {
        "sheetId": 0,
        "title": "Feedback",
        "index": 0,
        "sheetType": "GRID",
        "gridProperties": {"rowCount": 201, "columnCount": 6},
    }
    assert meta["sheets"][0]["merges"] == [
        {"sheetId": 0, "startRowIndex": 2, "endRowIndex": 4, "startColumnIndex": 2,
         "endColumnIndex": 3}
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("requested", "canonical"),
    [
        ("Feedback", "Feedback!A1:F201"),
        ("'Feedback'", "Feedback!A1:F201"),
        ("Feedback!A:C", "Feedback!A1:C201"),
        ("Feedback!A2:F", "Feedback!A2:F201"),
        ("Feedback!2:5", "Feedback!A2:F5"),
        ("Feedback!C5", "Feedback!C5"),
        ("Feedback!A1:Z9999", "Feedback!A1:F201"),  # reads are clipped to the grid
        ("'Bob''s reviews 2024'!A1:B2", "'Bob''s reviews 2024'!A1:B2"),
    ],
)
def test_range_forms(api: Api, requested: str, canonical: str) -> None:
    reply = api.get("/values:batchGet", ranges=[requested], valueRenderOption="UNFORMATTED_VALUE")
    assert reply.json()["valueRanges"][0]["range"] == canonical


def test_reads_trim_and_dates_render_as_asked(server: FakeSheets, sid: str, api: Api) -> None:
    server.set_values(sid, "Feedback", [[1.5, True, None, "x"]], start="A3")
    assert api.write("USER_ENTERED", **{"Feedback!D4": [["2024-01-15"]]}).ok
    params = {
        "valueRenderOption": "UNFORMATTED_VALUE",
        "ranges": ["Feedback!A2:F4", "Feedback!E2:F9"],
    }
    first, empty = api.get("/values:batchGet", **params).json()["valueRanges"]
    assert first["values"][1:] == [[1.5, True, "email", "x"], [3, "review 3", "email", 45306]]
    assert "values" not in empty
    as_text = api.get("/values:batchGet", **params, dateTimeRenderOption="FORMATTED_STRING")
    assert as_text.json()["valueRanges"][0]["values"][2][3] == "2024-01-15"
    assert server.values(sid, "Feedback")[3][3] == 45306


def test_an_unknown_sheet_or_option_is_refused(api: Api) -> None:
    reply = api.get("/values:batchGet", ranges=["Nope!A1:B2"])
    assert reply.status_code == 400
    assert reply.json()["error"] == {
        "code": 400,
        "message": "Unable to parse range: Nope!A1:B2",
        "status": "INVALID_ARGUMENT",
    }
    assert (
        api.get("/values:batchGet", ranges=["Feedback"], majorDimension="COLUMNS").status_code
        == 400
    )


def test_values_batch_update_across_sheets(server: FakeSheets, sid: str, api: Api) -> None:
    reply = api.write(**{"Feedback!E2": [["pos"]], "'Bob''s reviews 2024'!B1:B2": [["score"], [3]]})
    assert reply.json()["totalUpdatedSheets"] == 2 and reply.json()["totalUpdatedCells"] == 3
    assert reply.json()["responses"][1]["updatedRange"] == "'Bob''s reviews 2024'!B1:B2"
    assert server.values(sid, BOBS)[1] == ["bob", 3]
    assert (server.writes, server.calls["values.batchUpdate"]) == (1, 1)


def test_a_write_outside_the_grid_fails_like_google_and_changes_nothing(
    server: FakeSheets, sid: str, api: Api
) -> None:
    before = server.values(sid, "Feedback")
    reply = api.write(**{"Feedback!E2": [["pos"]], "Feedback!K1:K10": [[1]] * 10})
    assert reply.status_code == 400
    assert reply.json()["error"]["message"] == (
        "Range (Feedback!K1:K10) exceeds grid limits. Max rows: 201, max columns: 6"
    )
    assert server.values(sid, "Feedback") == before


def test_structure_requests(server: FakeSheets, sid: str, api: Api) -> None:
    grid = {"rowCount": 50, "columnCount": 4}
    add = {
        "addSheet": {
            "properties": {"sheetId": 7, "title": "Runs", "hidden": True, "gridProperties": grid}
        }
    }
    grow = {"updateSheetProperties": {
        "properties": {"sheetId": 0, "gridProperties": {"rowCount": 300, "columnCount": 8}},
        "fields": "gridProperties.rowCount,gridProperties.columnCount",
    }}  # fmt: skip
    rule = {"condition": {"type": "ONE_OF_LIST", "values": [{"userEnteredValue": "pos"}]}}
    grid_range = {"sheetId": 0, "startRowIndex": 1, "endRowIndex": 300, "startColumnIndex": 4,
                  "endColumnIndex": 5}  # fmt: skip
    validate = {"setDataValidation": {"range": grid_range, "rule": rule}}
    reply = api.post(":batchUpdate", {"requests": [add, grow, validate]})
    assert reply.json()["replies"][0]["addSheet"]["properties"]["title"] == "Runs"
    assert server.sheet_props(sid, "Runs") == {
        "sheetId": 7, "title": "Runs", "index": 2, "sheetType": "GRID", "gridProperties": grid,
        "hidden": True,
    }  # fmt: skip
    assert server.sheet_props(sid, "Feedback")["gridProperties"]["rowCount"] == 300
    assert server.data_validation(sid, "Feedback", "E300") == rule
    assert server.data_validation(sid, "Feedback", "F9") is None

    again = api.post(
        ":batchUpdate", {"requests": [{"addSheet": {"properties": {"title": "runs"}}}]}
    )
    assert "already exists" in again.json()["error"]["message"]
    unknown = api.post(":batchUpdate", {"requests": [{"doMagic": {}}]})
    assert "Unknown name" in unknown.json()["error"]["message"]


def test_sharing_decides_who_reads_and_writes(server: FakeSheets, sid: str) -> None:
    other = Api(server, sid, OTHER)
    try:
        refused = other.get()
        assert refused.status_code == 403
        assert refused.json()["error"]["message"] == "The caller does not have permission"
        server.share(sid, OTHER, role="reader")
        assert other.get().ok
        assert other.write(**{"Feedback!E2": [["pos"]]}).status_code == 403
    finally:
        other.session.close()
    assert requests.get(other.base, timeout=10).status_code == 401  # no token at all


def test_injected_faults(server: FakeSheets, api: Api) -> None:
    server.fail_next(1, status=429, retry_after=7)
    reply = api.get()
    assert reply.status_code == 429 and reply.headers["Retry-After"] == "7"
    assert reply.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert reply.json()["error"]["message"].startswith("Quota exceeded for quota metric 'Read")

    server.fail_next(1, status=503, kind="write")
    assert api.get().ok
    assert api.write(**{"Feedback!E2": [["pos"]]}).json()["error"]["status"] == "UNAVAILABLE"
    assert [r.status for r in server.requests] == [429, 200, 503]
    assert (server.reads, server.writes) == (2, 1)


def test_concurrent_clients_and_prompt_stop() -> None:
    server = FakeSheets().start()
    sid = server.add_spreadsheet("C", {"S": [[""] * 4 for _ in range(50)]}, share_with=["a@b"])
    clients = [Api(server, sid, "a@b") for _ in range(4)]

    def work(n: int) -> None:
        for row in range(n * 10, n * 10 + 10):
            reply = clients[n].write(**{f"S!B{row + 1}": [[row]]})
            assert reply.status_code == 200, reply.text

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [row[1] for row in server.values(sid, "S")[:40]] == list(range(40))
    assert server.writes == 40

    # Keep-alive connections are still open: a server that waited for them would never stop.
    # (The minute is a bound on a hang, not a measure of speed.)
    stopping = threading.Thread(target=server.stop, daemon=True)
    stopping.start()
    stopping.join(timeout=60)
    assert not stopping.is_alive(), "stop() waits for the open keep-alive connections"
    for client in clients:
        client.session.close()
    assert not server.internal_errors
