"""Fake WeChat endpoints for an account's assets: user tags, media files, materials.

https://developers.weixin.qq.com/doc/offiaccount/User_Management/User_Tag_Management.html,
.../Asset_Management/New_temporary_materials.html, .../Asset_Management/Adding_Permanent_Assets.html
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import select

from bot.db import utcnow
from bot.models import SimulatorCall
from bot.simulator.wechat_rules import Call, Done, err, ok

SYSTEM_TAGS = {2: "星标组"}  # 0 and 1 are reserved too, and never listed
RESERVED_TAGS = (0, 1, 2)
MAX_TAGS = 100
MAX_TAGS_PER_USER = 20
TAG_PATHS = ("tags/create", "tags/delete", "tags/members/batchtagging",
             "tags/members/batchuntagging")


@dataclass
class Tags:
    """The account's tags and who carries them, replayed from the recorded calls."""

    names: dict[int, str] = field(default_factory=dict)
    members: dict[int, set[str]] = field(default_factory=dict)
    created: int = 0

    def of(self, openid: str) -> list[int]:
        return sorted(tag for tag, users in self.members.items() if openid in users)

    def copy(self) -> Tags:
        return Tags(dict(self.names), {tag: set(users) for tag, users in self.members.items()},
                    self.created)

    def apply(self, done: Done) -> None:
        """One recorded call's effect."""
        if done.path == "tags/create":
            tag = done.response["tag"]
            self.names[tag["id"]] = tag["name"]
            self.created += 1
        elif done.path == "tags/delete":
            tag_id = done.body["tag"]["id"]
            self.names.pop(tag_id, None)
            self.members.pop(tag_id, None)
        else:
            users = self.members.setdefault(done.body["tagid"], set())
            change = users.update if done.path.endswith("batchtagging") else \
                users.difference_update
            change(done.body["openid_list"])


@dataclass
class _Settled:
    """An account's tags replayed up to the call `last` (id, created_at): calls recorded
    long enough ago that no earlier id can still be committed after them."""

    tags: Tags
    last: tuple[int, dt.datetime | None] = (0, None)


SETTLE = dt.timedelta(seconds=5)
_settled: dict[tuple[str, str], _Settled] = {}
_settled_lock = threading.Lock()


def _tags(call: Call) -> Tags:
    """The account's tags now: the settled replay (kept per process, so a call costs the
    calls since, not the whole history) plus the calls of the last few seconds."""
    key = (call.runtime.engine.url.render_as_string(), call.account.appid)
    with _settled_lock:
        settled = _settled.get(key)
        if settled is None or not _still_recorded(call, settled.last):  # calls were cleared
            settled = _settled[key] = _Settled(Tags(names=dict(SYSTEM_TAGS)))
        recent = call.history(TAG_PATHS, after_id=settled.last[0])
        horizon = utcnow() - SETTLE
        while recent and recent[0].created_at < horizon:
            done = recent.pop(0)
            settled.tags.apply(done)
            settled.last = (done.id, done.created_at)
        tags = settled.tags.copy()
    for done in recent:
        tags.apply(done)
    return tags


def _still_recorded(call: Call, last: tuple[int, dt.datetime | None]) -> bool:
    if last[0] == 0:
        return True
    table = SimulatorCall.__table__
    with call.runtime.engine.connect() as conn:
        at = conn.execute(select(table.c.created_at).where(table.c.id == last[0])).scalar()
    return at == last[1]


def tag_members(call: Call, tag_id: object) -> set[str]:
    """Who carries `tag_id` now."""
    return set(_tags(call).members.get(tag_id, set())) if isinstance(tag_id, int) else set()


def tags_create(call: Call) -> dict:
    tag = call.data.get("tag")
    name = tag.get("name") if isinstance(tag, dict) else None
    if not isinstance(name, str) or not name.strip():
        return err(45157)
    if len(name) > 30:
        return err(45158)
    tags = _tags(call)
    if name in tags.names.values():
        return err(45157)  # names are unique
    if len(tags.names) - len(SYSTEM_TAGS) >= MAX_TAGS:
        return err(45056)
    return {"tag": {"id": 100 + tags.created, "name": name}}


def tags_get(call: Call) -> dict:
    tags = _tags(call)
    return {"tags": [{"id": tag, "name": name, "count": len(tags.members.get(tag, ()))}
                     for tag, name in sorted(tags.names.items())]}


def tags_delete(call: Call) -> dict:
    tag = call.data.get("tag")
    tag_id = tag.get("id") if isinstance(tag, dict) else None
    if not isinstance(tag_id, int):
        return err(47001)
    if tag_id in RESERVED_TAGS:
        return err(45058)
    return ok() if tag_id in _tags(call).names else err(45159)


def _members_error(call: Call, tags: Tags) -> int:
    users = call.data.get("openid_list")
    if not isinstance(users, list) or not 1 <= len(users) <= 50:
        return 40032
    if not all(isinstance(user, str) and user for user in users):
        return 40003
    tag_id = call.data.get("tagid")
    if not isinstance(tag_id, int):
        return 47001
    return 0 if tag_id in tags.names and tag_id not in (0, 1) else 45159


def tags_batchtagging(call: Call) -> dict:
    tags = _tags(call)
    error = _members_error(call, tags)
    if error:
        return err(error)
    tag_id = call.data["tagid"]
    for openid in call.data["openid_list"]:
        if tag_id not in tags.of(openid) and len(tags.of(openid)) >= MAX_TAGS_PER_USER:
            return err(45059)
    return ok()


def tags_batchuntagging(call: Call) -> dict:
    return err(_members_error(call, _tags(call)))


def tags_getidlist(call: Call) -> dict:
    openid = call.data.get("openid")
    if not isinstance(openid, str) or not openid:
        return err(40003)
    return {"tagid_list": _tags(call).of(openid)}


# -- media ------------------------------------------------------------------------------
# type -> (allowed extensions, size limit in bytes)
MEDIA_RULES = {
    "image": ({"png", "jpeg", "jpg", "gif", "bmp"}, 10 * 1024 * 1024),
    "voice": ({"amr", "mp3", "wma", "wav"}, 2 * 1024 * 1024),
    "video": ({"mp4"}, 10 * 1024 * 1024),
    "thumb": ({"jpg", "jpeg"}, 64 * 1024),
}


def _media_error(call: Call) -> int:
    kind = call.args.get("type", "")
    if kind not in MEDIA_RULES:
        return 40004
    upload = call.files.get("media")
    if upload is None:
        return 41005
    extensions, limit = MEDIA_RULES[kind]
    extension = (upload.filename or "").rsplit(".", 1)[-1].lower()
    if extension not in extensions:
        return 40005
    length = len(upload.read())
    upload.seek(0)
    return 0 if 0 < length <= limit else 40006


def media_upload(call: Call) -> dict:
    """A temporary media file; a thumb's id comes back as thumb_media_id."""
    error = _media_error(call)
    if error:
        return err(error)
    kind = call.args["type"]
    key = "thumb_media_id" if kind == "thumb" else "media_id"
    return {"type": kind, key: f"sim-media-{secrets.token_urlsafe(24)}",
            "created_at": int(time.time())}


def material_add(call: Call) -> dict:
    """A permanent material; a video needs a description with its title."""
    error = _media_error(call)
    if error:
        return err(error)
    kind = call.args["type"]
    if kind == "video" and not _video_title(call):
        return err(47001)
    media_id = f"sim-material-{secrets.token_urlsafe(24)}"
    extra = {"url": f"http://mmbiz.qpic.cn/sim/{media_id}/0"} if kind == "image" else {}
    return {"media_id": media_id, **extra}


def _video_title(call: Call) -> str:
    raw = call.args.get("description") or call.data.get("description") or ""
    try:
        description = json.loads(raw)
    except ValueError:
        return ""
    return str(description.get("title", "")) if isinstance(description, dict) else ""
