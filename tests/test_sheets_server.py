"""Self-tests for the fake Google Sheets server, driven by real gspread over HTTP."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import google.auth.exceptions
import gspread
import pytest
import requests
from gspread.utils import ValidationConditionType

from tests.servers.sheets_server import (
    FakeSheets,
    connect_gspread,
    make_service_account,
    redirect_session,
)

HEADER = ["id", "text", "channel", "date", "label", "score"]
ROWS = [HEADER] + [[i, f"review {i}", "email", "2024-05-01", "", ""] for i in range(1, 201)]
OTHER = "someone-else@test-project.iam.gserviceaccount.com"


@pytest.fixture
def server() -> Iterator[FakeSheets]:
    with FakeSheets(seed=7) as srv:
        yield srv


@pytest.fixture
def account(server: FakeSheets) -> dict[str, str]:
    return make_service_account(server)


@pytest.fixture
def sid(server: FakeSheets, account: dict[str, str]) -> str:
    return server.add_spreadsheet(
        "Reviews",
        {"Feedback": ROWS, "Bob's reviews 2024": [["who", "says"], ["bob", "hi"]]},
        row_count={"Bob's reviews 2024": 10},
        share_with=[account["client_email"]],
    )


@pytest.fixture
def client(server: FakeSheets, account: dict[str, str]) -> Iterator[gspread.Client]:
    gc = connect_gspread(server, account)
    yield gc
    gc.http_client.session.close()


@pytest.fixture
def sheet(client: gspread.Client, sid: str) -> gspread.Spreadsheet:
    return client.open_by_key(sid)


def api_error(excinfo: pytest.ExceptionInfo) -> gspread.exceptions.APIError:
    exc = excinfo.value
    while not isinstance(exc, gspread.exceptions.APIError):
        exc = exc.__cause__
    return exc


# ---- auth and opening


def test_service_account_token_flow_opens_by_key(server, sheet):
    assert sheet.title == "Reviews"
    assert [ws.title for ws in sheet.worksheets()] == ["Feedback", "Bob's reviews 2024"]
    feedback = sheet.worksheet("Feedback")
    assert (feedback.row_count, feedback.col_count) == (201, 6)
    assert server.token_requests == 1


def test_metadata_has_google_shape(server, sheet):
    meta = sheet.fetch_sheet_metadata()
    props = meta["sheets"][0]["properties"]
    assert meta["spreadsheetId"] == sheet.id
    assert props == {
        "sheetId": 0,
        "title": "Feedback",
        "index": 0,
        "sheetType": "GRID",
        "gridProperties": {"rowCount": 201, "columnCount": 6},
    }
    assert "data" not in meta["sheets"][0]
    with_data = sheet.fetch_sheet_metadata(params={"includeGridData": "true"})
    first_row = with_data["sheets"][0]["data"][0]["rowData"][0]["values"]
    assert first_row[0]["userEnteredValue"] == {"stringValue": "id"}


def test_missing_token_is_401(server, sid):
    session = requests.Session()
    try:
        bare = gspread.Client(auth=None, session=redirect_session(session, server))
        with pytest.raises(gspread.exceptions.APIError) as excinfo:
            bare.open_by_key(sid)
    finally:
        session.close()
    assert excinfo.value.code == 401
    assert excinfo.value.error["status"] == "UNAUTHENTICATED"
    assert server.reads == 0


def test_expired_token_is_refreshed_by_google_auth(server, sheet):
    server.expire_tokens()
    assert sheet.sheet1.get_values("A1") == [["id"]]
    assert server.token_requests == 2
    assert [r.status for r in server.requests][-3:] == [401, 200, 200]


def test_jwt_signed_with_another_key_is_rejected(server, sid):
    real = make_service_account(server)
    impostor = make_service_account(server, email="x@y.iam.gserviceaccount.com")
    forged = {**real, "private_key": impostor["private_key"]}
    gc = connect_gspread(server, forged)
    try:
        with pytest.raises(google.auth.exceptions.RefreshError, match="Invalid JWT Signature"):
            gc.open_by_key(sid)
    finally:
        gc.http_client.session.close()


def test_unshared_account_gets_403(server, sid):
    other = connect_gspread(server, make_service_account(server, email=OTHER))
    try:
        with pytest.raises(PermissionError) as excinfo:  # gspread turns 403 into this
            other.open_by_key(sid)
        error = api_error(excinfo)
        assert error.code == 403
        assert error.error["message"] == "The caller does not have permission"
        assert error.error["status"] == "PERMISSION_DENIED"

        server.share(sid, OTHER, role="reader")
        feedback = other.open_by_key(sid).worksheet("Feedback")
        assert feedback.get_values("A1") == [["id"]]
        with pytest.raises(gspread.exceptions.APIError) as excinfo:
            feedback.update([["x"]], "E2")
        assert excinfo.value.code == 403
    finally:
        other.http_client.session.close()


def test_unknown_spreadsheet_is_404(client):
    with pytest.raises(gspread.SpreadsheetNotFound) as excinfo:
        client.open_by_key("1doesNotExist")
    assert api_error(excinfo).error == {
        "code": 404,
        "message": "Requested entity was not found.",
        "status": "NOT_FOUND",
    }


def test_open_by_title_uses_minimal_drive_listing(server, client, sid):
    assert client.open("Reviews").id == sid
    assert server.calls["drive.files.list"] == 1
    assert server.reads == 1  # Drive calls are not Sheets reads


# ---- reads


def test_get_all_values_returns_formatted_strings(server, sheet):
    values = sheet.worksheet("Feedback").get_all_values()
    assert values[0] == HEADER
    assert values[1] == ["1", "review 1", "email", "2024-05-01", "", ""]  # gspread pads
    assert len(values) == 201


def test_reads_trim_and_render_like_google(server, sheet):
    server.set_values(sheet.id, "Feedback", [[1.5, True, None, "x"]], start="A3")
    response = sheet.values_get("'Feedback'!A2:F4")
    assert response["range"] == "Feedback!A2:F4"
    assert response["values"] == [
        ["1", "review 1", "email", "2024-05-01"],  # trailing empty cells trimmed
        ["1.5", "TRUE", "email", "x"],
        ["3", "review 3", "email", "2024-05-01"],
    ]
    raw = sheet.values_get("Feedback!A3:B3", params={"valueRenderOption": "UNFORMATTED_VALUE"})
    assert raw["values"] == [[1.5, True]]
    columns = sheet.values_get("Feedback!A1:B2", params={"majorDimension": "COLUMNS"})
    assert columns["values"] == [["id", "1"], ["text", "review 1"]]
    empty = sheet.values_get("Feedback!E2:F9")
    assert "values" not in empty


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
        ("A1:B2", "Feedback!A1:B2"),  # no sheet: the first visible sheet
        ("'Bob''s reviews 2024'!A1:B2", "'Bob''s reviews 2024'!A1:B2"),
    ],
)
def test_range_forms(sheet, requested, canonical):
    assert sheet.values_get(requested)["range"] == canonical


def test_unknown_sheet_is_unable_to_parse(sheet):
    with pytest.raises(gspread.exceptions.APIError) as excinfo:
        sheet.values_get("Nope!A1:B2")
    assert excinfo.value.code == 400
    assert excinfo.value.error["message"] == "Unable to parse range: Nope!A1:B2"
    assert excinfo.value.error["status"] == "INVALID_ARGUMENT"


def test_batch_get_is_one_read(server, sheet):
    feedback = sheet.worksheet("Feedback")
    server.reset_counters()
    ranges = feedback.batch_get(["A1:F1", "E2:E", "B2:B3"])
    assert (server.reads, server.writes) == (1, 0)
    assert server.calls == {"values.batchGet": 1}
    assert [r.range for r in ranges] == ["Feedback!A1:F1", "Feedback!E2:E201", "Feedback!B2:B3"]
    assert ranges[2] == [["review 1"], ["review 2"]]
    method, path, query = server.requests[0][:3]
    assert (method, path) == ("GET", f"/v4/spreadsheets/{sheet.id}/values:batchGet")
    assert query["ranges"] == ["'Feedback'!A1:F1", "'Feedback'!E2:E", "'Feedback'!B2:B3"]


def test_quoted_titles_with_spaces_and_apostrophes(server, sheet):
    bobs = sheet.worksheet("Bob's reviews 2024")
    assert bobs.get_all_values() == [["who", "says"], ["bob", "hi"]]
    result = bobs.update([["alice", "hello"]], "A3")
    assert result["updatedRange"] == "'Bob''s reviews 2024'!A3:B3"
    assert bobs.batch_get(["B1:B3"])[0] == [["says"], ["hi"], ["hello"]]
    assert server.requests[-1].query["ranges"] == ["'Bob''s reviews 2024'!B1:B3"]


# ---- writes


def test_worksheet_batch_update_raw_and_user_entered(server, sheet):
    feedback = sheet.worksheet("Feedback")
    server.reset_counters()
    raw = feedback.batch_update([{"range": "E2:F3", "values": [["pos", "12"], ["neg", "=1+1"]]}])
    assert raw["totalUpdatedCells"] == 4
    assert raw["responses"][0]["updatedRange"] == "Feedback!E2:F3"
    assert server.values(sheet.id, "Feedback")[1][4:] == ["pos", "12"]

    feedback.batch_update(
        [{"range": "F2:F5", "values": [["12"], ["TRUE"], ["=SUM(A2:A3)"], ["'007"]]}], raw=False
    )
    column = [row[5] for row in server.values(sheet.id, "Feedback")[1:5]]
    assert column == [12, True, "=SUM(A2:A3)", "007"]
    assert (server.writes, server.calls["values.batchUpdate"]) == (2, 2)


def test_spreadsheet_values_batch_update_across_sheets(server, sheet):
    result = sheet.values_batch_update(
        {
            "valueInputOption": "RAW",
            "data": [
                {"range": "Feedback!E2", "values": [["pos"]]},
                {"range": "'Bob''s reviews 2024'!B1:B2", "values": [["score"], [3]]},
            ],
        }
    )
    assert result["totalUpdatedSheets"] == 2
    assert result["totalUpdatedCells"] == 3
    assert server.values(sheet.id, "Bob's reviews 2024")[1] == ["bob", 3]


def test_write_outside_grid_fails_like_google(server, sheet):
    feedback = sheet.worksheet("Feedback")
    with pytest.raises(gspread.exceptions.APIError) as excinfo:
        feedback.update([[1]] * 10, "K1")
    assert excinfo.value.code == 400
    assert excinfo.value.error["message"] == (
        "Range ('Feedback'!K1:K10) exceeds grid limits. Max rows: 201, max columns: 6"
    )
    assert str(excinfo.value).startswith("APIError: [400]: Range ('Feedback'!K1:K10)")


def test_batch_update_is_atomic(server, sheet):
    before = server.values(sheet.id, "Feedback")
    with pytest.raises(gspread.exceptions.APIError, match="exceeds grid limits"):
        sheet.worksheet("Feedback").batch_update(
            [{"range": "E2", "values": [["pos"]]}, {"range": "G2", "values": [["x"]]}]
        )
    assert server.values(sheet.id, "Feedback") == before


def test_append_writes_below_the_table_and_grows_the_grid(server, sheet):
    feedback = sheet.worksheet("Feedback")
    result = feedback.append_rows([[201, "late", "chat"], [202, "later", "chat"]])
    assert result["tableRange"] == "Feedback!A1:F201"
    assert result["updates"]["updatedRange"] == "Feedback!A202:C203"
    assert server.sheet_props(sheet.id, "Feedback")["gridProperties"]["rowCount"] == 203
    assert server.values(sheet.id, "Feedback")[-1] == [202, "later", "chat"]


def test_clear_and_batch_clear(server, sheet):
    feedback = sheet.worksheet("Feedback")
    assert feedback.batch_clear(["B2:B3", "C2"])["clearedRanges"] == [
        "Feedback!B2:B3",
        "Feedback!C2",
    ]
    assert server.values(sheet.id, "Feedback")[1] == [1, "", "", "2024-05-01"]
    assert feedback.clear()["clearedRange"] == "Feedback!A1:F201"
    assert server.values(sheet.id, "Feedback") == []


# ---- structure


def test_add_worksheet_and_hide_it(server, sheet):
    runs = sheet.add_worksheet("Runs", rows=50, cols=4)
    sheet.batch_update(
        {
            "requests": [
                {
                    "updateSheetProperties": {
                        "properties": {"sheetId": runs.id, "hidden": True},
                        "fields": "hidden",
                    }
                }
            ]
        }
    )
    props = server.sheet_props(sheet.id, "Runs")
    assert props["hidden"] is True
    assert props["gridProperties"] == {"rowCount": 50, "columnCount": 4}
    assert [ws.title for ws in sheet.worksheets(exclude_hidden=True)] == [
        "Feedback",
        "Bob's reviews 2024",
    ]
    with pytest.raises(gspread.exceptions.APIError, match="already exists"):
        sheet.add_worksheet("runs", rows=1, cols=1)


def test_resize_insert_delete_dimensions(server, sheet):
    feedback = sheet.worksheet("Feedback")
    feedback.resize(cols=8)
    feedback.add_rows(10)
    assert server.sheet_props(sheet.id, "Feedback")["gridProperties"] == {
        "rowCount": 211,
        "columnCount": 8,
    }
    feedback.insert_rows([["new", "row"]], row=2)
    assert server.values(sheet.id, "Feedback")[1:3] == [
        ["new", "row"],
        [1, "review 1", "email", "2024-05-01"],
    ]
    feedback.delete_rows(2)
    assert server.values(sheet.id, "Feedback")[1][0] == 1
    assert server.sheet_props(sheet.id, "Feedback")["gridProperties"]["rowCount"] == 211


def test_validation_formatting_and_charts_are_kept(server, sheet):
    feedback = sheet.worksheet("Feedback")
    feedback.add_validation(
        "E2:E201", ValidationConditionType.one_of_list, ["pos", "neg"], showCustomUi=True
    )
    rule = server.data_validation(sheet.id, "Feedback", "E9")
    assert rule["condition"]["values"] == [{"userEnteredValue": "pos"}, {"userEnteredValue": "neg"}]
    assert server.data_validation(sheet.id, "Feedback", "F9") is None

    feedback.format("A1:F1", {"textFormat": {"bold": True}})
    assert len(server.recorded_requests(sheet.id, "repeatCell")) == 1

    chart = {"spec": {"title": "Labels"}, "position": {"sheetId": 0}}
    reply = sheet.batch_update({"requests": [{"addChart": {"chart": chart}}]})
    assert reply["replies"][0]["addChart"]["chart"]["spec"] == {"title": "Labels"}
    assert len(server.charts(sheet.id)) == 1


def test_structural_errors_name_the_request(sheet):
    with pytest.raises(gspread.exceptions.APIError) as excinfo:
        sheet.batch_update({"requests": [{"repeatCell": {"range": {"sheetId": 99}}}]})
    assert excinfo.value.error["message"] == "Invalid requests[0].repeatCell: No grid with id: 99"
    with pytest.raises(gspread.exceptions.APIError, match="Unknown name"):
        sheet.batch_update({"requests": [{"doMagic": {}}]})


# ---- faults and quotas


def test_injected_429_surfaces_as_api_error(server, sheet):
    feedback = sheet.worksheet("Feedback")
    server.fail_next(1, status=429, retry_after=7)
    with pytest.raises(gspread.exceptions.APIError) as excinfo:
        feedback.get_all_values()
    error = excinfo.value
    assert error.code == 429
    assert error.error["status"] == "RESOURCE_EXHAUSTED"
    assert error.error["message"].startswith("Quota exceeded for quota metric 'Read requests'")
    assert error.response.headers["Retry-After"] == "7"
    assert feedback.get_values("A1") == [["id"]]


def test_injected_fault_can_target_writes(server, sheet):
    feedback = sheet.worksheet("Feedback")
    server.fail_next(1, status=503, kind="write")
    assert feedback.get_values("A1") == [["id"]]
    with pytest.raises(gspread.exceptions.APIError) as excinfo:
        feedback.update([["pos"]], "E2")
    assert (excinfo.value.code, excinfo.value.error["status"]) == (503, "UNAVAILABLE")
    assert server.values(sheet.id, "Feedback")[1][4:] == []


def test_write_quota_per_minute():
    now = [1000.0]
    with FakeSheets(write_quota_per_minute=2, clock=lambda: now[0]) as server:
        info = make_service_account(server)
        sid = server.add_spreadsheet("Q", {"S": [["a"]]}, share_with=[info["client_email"]])
        gc = connect_gspread(server, info)
        try:
            ws = gc.open_by_key(sid).sheet1
            ws.update([["b"]], "A1")
            ws.update([["c"]], "A1")
            with pytest.raises(gspread.exceptions.APIError, match="'Write requests'") as excinfo:
                ws.update([["d"]], "A1")
            assert excinfo.value.code == 429
            now[0] += 61
            ws.update([["e"]], "A1")
        finally:
            gc.http_client.session.close()
        assert server.values(sid, "S") == [["e"]]


# ---- robustness


def test_concurrent_clients_and_prompt_stop():
    server = FakeSheets().start()
    sid = server.add_spreadsheet("C", {"S": [[""] * 4 for _ in range(50)]}, share_with=["a@b"])
    token = server.issue_token("a@b")
    sessions = [requests.Session() for _ in range(4)]

    def work(n: int) -> None:
        session = redirect_session(sessions[n], server)
        for row in range(n * 10, n * 10 + 10):
            url = f"https://sheets.googleapis.com/v4/spreadsheets/{sid}/values/S%21B{row + 1}"
            reply = session.put(
                url,
                params={"valueInputOption": "RAW"},
                json={"values": [[row]]},
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
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
    for session in sessions:
        session.close()
    assert not server.internal_errors
