"""Calling the fake WeChat API through the Flask test client, for tests."""

from __future__ import annotations

import io
import json
from typing import Any

from bot.config import Account


class FakeWeChat:
    """One account's view of /sim/api/: fetches its token once and signs calls with it."""

    def __init__(self, client: Any, account: Account) -> None:
        self.client = client
        self.account = account
        self._token = ""

    def fetch_token(self, **params: str) -> dict:
        query = {"grant_type": "client_credential", "appid": self.account.appid,
                 "secret": self.account.secret, **params}
        return self.client.get("/sim/api/token", query_string=query).get_json()

    @property
    def token(self) -> str:
        if not self._token:
            self._token = self.fetch_token()["access_token"]
        return self._token

    def post(self, path: str, body: Any, token: str | None = None) -> dict:
        raw = body if isinstance(body, (bytes, str)) else json.dumps(body, ensure_ascii=False)
        return self.client.post(f"/sim/api/{path}", data=raw, query_string={
            "access_token": self.token if token is None else token}).get_json()

    def get(self, path: str, token: str | None = None) -> dict:
        return self.client.get(f"/sim/api/{path}", query_string={
            "access_token": self.token if token is None else token}).get_json()

    def upload(self, path: str, kind: str, filename: str, content: bytes,
               **form: str) -> dict:
        data = {"media": (io.BytesIO(content), filename), **form}
        return self.client.post(f"/sim/api/{path}", data=data, content_type="multipart/form-data",
                                query_string={"access_token": self.token,
                                              "type": kind}).get_json()

    def calls(self, **filters: Any) -> list[dict]:
        return self.client.get("/sim/api/_calls", query_string=filters).get_json()

    def fault(self, **spec: Any) -> Any:
        return self.client.post("/sim/api/_faults", json=spec)

    def text(self, openid: str, content: str, token: str | None = None) -> dict:
        return self.post("message/custom/send", {"touser": openid, "msgtype": "text",
                                                 "text": {"content": content}}, token)
