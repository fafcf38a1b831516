"""Cases from the subscriber's side: leaving a message, following it, rating the answer.

The intake is a guided dialog kept as the subscriber's dialog state (kind "case", expiring
after DIALOG_TTL, resumable): class → description (several messages and pictures, until 提交)
→ contact (optional; required for 依申请公开, which also asks what 条例 Art. 29 requires) →
summary and confirmation → the case number and deadline. 取消 works at every step; a keyword
or command of another kind (帮助, 查询 …) is answered as usual and the dialog waits.

Every step but the last is @quick (the state travels with the message); opening the case,
looking cases up and rating them use the database and run on the handler pool.
"""

from __future__ import annotations

import datetime as dt
import re

from bot.clock import beijing
from bot.dispatch import HandlerGroup, Incoming, NotHandled, quick
from bot.services import case_flow as flow
from bot.services import cases as case_service
from bot.services.delivery import rating_prompt
from bot.services.privacy import mask_phone, valid_phone

group = HandlerGroup("cases")

DIALOG_TTL = dt.timedelta(minutes=30)
MAX_PARTS = 20  # messages in one description
MAX_DESCRIPTION = 2000  # characters
CLASS_WORDS = {
    "留言": None, "我要留言": None, "咨询": "咨询", "求助": "求助", "投诉": "投诉", "举报": "举报",
    "建议": "意见建议", "意见建议": "意见建议", "提建议": "意见建议",
    "申请公开": flow.DISCLOSURE, "依申请公开": flow.DISCLOSURE, "信息公开申请": flow.DISCLOSURE,
}
CANCEL = {"取消", "退出", "不留了", "算了", "放弃"}
SUBMIT = {"提交", "完成", "好了", "写完了", "发完了", "结束"}
CONFIRM = {"确认", "确定", "是", "对", "提交", "好", "好的", "没问题"}
SKIP = {"跳过", "不留", "不用", "不需要", "否", "无"}
APPLICANTS = ("自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他组织")
FORMS = ("公众号答复（电子）", "电子邮件", "纸质邮寄", "当面领取")
CONSENT = ("您留下的姓名和电话只用于办理和答复本件，不会公开，也不作他用；"
           "如需保密办理，请在后面加“保密”二字。")
ONE_SHOT = re.compile(r"^(咨询|求助|投诉|举报|建议|意见建议|申请公开|依申请公开)\s*[:：]\s*(\S.*)$",
                      re.S)
NUMBER = r"(\d{8})-?(\d{4})"
_EMAIL = re.compile(r"^[\w.+-]+@[\w-]+(\.[\w-]+)+$")


def _class_menu() -> str:
    lines = [f"{n}. {name}" for n, name in enumerate(flow.CLASSES, start=1)]
    return "请选择留言类型，回复数字：\n" + "\n".join(lines) + "\n（回复“取消”可随时退出）"


def _numbered(options: tuple[str, ...], text: str) -> str | None:
    text = text.strip()
    if text.isdigit() and 1 <= int(text) <= len(options):
        return options[int(text) - 1]
    return text if text in options else None


# -- starting ----------------------------------------------------------------------------
@group.keyword(*CLASS_WORDS)
@group.menu("LEAVE_MESSAGE")
@quick
def start(msg: Incoming, ctx):
    """留言：咨询、求助、投诉、举报、建议、申请公开"""
    dialog = ctx.dialog
    if dialog is not None and dialog.kind == "case" and _has_content(dialog.data):
        data = {**dialog.data, "resume": True}
        ctx.start_dialog("case", data, DIALOG_TTL)
        return (f"您有一条还没提交的留言（{data.get('class') or '未选类型'}，已写"
                f"{len(data.get('parts', []))}段）。回复“继续”接着填写，回复“重新开始”重新填写，"
                "或回复“取消”放弃。")
    case_class = CLASS_WORDS.get(msg.normalized) if msg.msg_type == "text" else None
    return _begin(ctx, case_class)


def _begin(ctx, case_class: str | None, description: str = ""):
    data = {"step": "class", "class": case_class, "parts": [], "images": []}
    if case_class is None:
        ctx.start_dialog("case", data, DIALOG_TTL)
        return _class_menu()
    if description:  # the one-shot form: straight to confirmation (contact optional there)
        data["parts"] = [description[:MAX_DESCRIPTION]]
        if case_class == flow.DISCLOSURE:
            return _after_description(ctx, data)
        data["step"] = "confirm"
        ctx.start_dialog("case", data, DIALOG_TTL)
        return _summary(data)
    data["step"] = "describe"
    ctx.start_dialog("case", data, DIALOG_TTL)
    return _describe_prompt(case_class)


@group.regex(ONE_SHOT.pattern, re.S)
@quick
def one_shot(msg: Incoming, ctx):
    """投诉：…… 一条消息直接留言"""
    found = ONE_SHOT.match(msg.text.strip().replace("：", ":")) or ONE_SHOT.match(msg.normalized)
    if found is None:
        return NotHandled
    return _begin(ctx, CLASS_WORDS[found.group(1)], found.group(2).strip())


def _describe_prompt(case_class: str) -> str:
    what = "您要申请公开的政府信息（名称、文号或内容描述，越具体越好）" \
        if case_class == flow.DISCLOSURE else "您的问题（时间、地点、事情经过）"
    return (f"好的，类型：{case_class}。\n请描述{what}，可以分几条发送，也可以发图片；"
            "写完后回复“提交”。回复“取消”退出。")


def _has_content(data: dict) -> bool:
    return bool(data.get("parts") or data.get("images") or data.get("class"))


# -- the dialog --------------------------------------------------------------------------
@group.intercept
@quick
def intake(msg: Incoming, ctx):
    """留言对话进行中：按步骤收集内容"""
    dialog = ctx.dialog
    if dialog is None or dialog.kind not in ("case", "rate", "rate_comment"):
        return NotHandled
    text = msg.normalized
    if dialog.kind != "case":
        return _rating(msg, ctx)
    if text in CANCEL:
        ctx.end_dialog()
        return "已取消，这条留言没有提交。需要时回复“留言”重新开始。"
    data = dict(dialog.data)
    if ctx.router.owner(msg) is not None and not ONE_SHOT.match(text) \
            and not (data.get("step") == "class" and text in CLASS_WORDS):
        return NotHandled  # 帮助, 查询 …, 留言 (which offers to resume): the dialog waits
    if data.pop("resume", False):
        if text == "继续":
            ctx.start_dialog("case", data, DIALOG_TTL)
            return "好的，接着来。\n" + _prompt(data)
        if text == "重新开始":
            return _begin(ctx, None)
        ctx.start_dialog("case", {**data, "resume": True}, DIALOG_TTL)
        return "请回复“继续”、“重新开始”或“取消”。"
    step = STEPS.get(data.get("step", ""))
    if step is None:
        ctx.end_dialog()
        return NotHandled
    return step(msg, ctx, data)


@group.msg_type("image", "voice")
@quick
def intake_media(msg: Incoming, ctx):
    """留言时发来的图片和语音：附在描述里"""
    dialog = ctx.dialog
    if dialog is None or dialog.kind != "case" or dialog.data.get("step") != "describe":
        return NotHandled
    data = dict(dialog.data)
    if msg.msg_type == "voice":
        if not msg.text:
            return "语音没有识别出文字，请用文字描述，或发图片。"
        return _add_text(ctx, data, msg.text)
    images = list(data.get("images", []))
    if len(images) >= 9:
        return "最多附9张图片。请继续用文字描述，或回复“提交”。"
    images.append(msg.media_id)
    data["images"] = images
    ctx.start_dialog("case", data, DIALOG_TTL)
    return f"已收到图片（共{len(images)}张）。可以继续补充，写完回复“提交”。"


def _choose_class(msg: Incoming, ctx, data: dict):
    chosen = _numbered(flow.CLASSES, msg.normalized) or CLASS_WORDS.get(msg.normalized)
    if chosen is None:
        return "请回复 1 到 6 之间的数字选择类型，或回复“取消”。\n" + _class_menu()
    data.update(step="describe", **{"class": chosen})
    ctx.start_dialog("case", data, DIALOG_TTL)
    return _describe_prompt(chosen)


def _describe(msg: Incoming, ctx, data: dict):
    if msg.normalized in SUBMIT:
        if not data.get("parts"):
            return "还没有收到您的描述，请先用文字说明情况，再回复“提交”。"
        return _after_description(ctx, data)
    return _add_text(ctx, data, msg.text.strip())


def _add_text(ctx, data: dict, text: str):
    parts = list(data.get("parts", []))
    if len(parts) >= MAX_PARTS or sum(map(len, parts)) + len(text) > MAX_DESCRIPTION:
        return f"描述已到上限（{MAX_DESCRIPTION}字）。请回复“提交”，或回复“取消”重写。"
    parts.append(text)
    data["parts"] = parts
    ctx.start_dialog("case", data, DIALOG_TTL)
    return f"已记下（第{len(parts)}段）。可以继续补充，写完回复“提交”。"


def _after_description(ctx, data: dict):
    if data.get("class") == flow.DISCLOSURE:
        data["step"] = "applicant"
    else:
        data["step"] = "contact"
    ctx.start_dialog("case", data, DIALOG_TTL)
    return _prompt(data)


def _prompt(data: dict) -> str:
    step = data.get("step")
    if step == "class":
        return _class_menu()
    if step == "describe":
        return _describe_prompt(data.get("class") or "")
    if step == "applicant":
        lines = [f"{n}. {name}" for n, name in enumerate(APPLICANTS, start=1)]
        return "依申请公开需要登记申请人（《政府信息公开条例》第二十九条）。请问申请人是：\n" + \
            "\n".join(lines)
    if step == "contact":
        if data.get("class") == flow.DISCLOSURE:
            return ("请回复申请人姓名（或单位名称）和联系电话，例如“张三 13800000000”。\n"
                    + CONSENT)
        return ("是否留下姓名和电话，方便工作人员联系您？例如“张三 13800000000”；"
                "不留请回复“跳过”。\n" + CONSENT)
    if step == "id_number":
        return "请回复申请人的身份证件号码（单位请回复统一社会信用代码）。只用于登记本申请。"
    if step == "form":
        lines = [f"{n}. {name}" for n, name in enumerate(FORMS, start=1)]
        return "希望以什么方式获取信息？回复数字：\n" + "\n".join(lines)
    if step == "address":
        return ("请回复接收地址：电子邮件请回复邮箱，纸质邮寄请回复收件地址。"
                if data.get("form") in FORMS[1:3] else "")
    if step == "confirm":
        return _summary(data)
    return ""


def _applicant(msg: Incoming, ctx, data: dict):
    chosen = _numbered(APPLICANTS, msg.normalized)
    if chosen is None:
        return "请回复 1 到 6 之间的数字。\n" + _prompt(data)
    data.update(applicant=chosen, step="contact")
    ctx.start_dialog("case", data, DIALOG_TTL)
    return _prompt(data)


def _contact(msg: Incoming, ctx, data: dict):
    text = msg.text.strip()
    disclosure = data.get("class") == flow.DISCLOSURE
    if msg.normalized in SKIP:
        if disclosure:
            return "依申请公开需要申请人姓名和联系方式，请回复，例如“张三 13800000000”。"
        data.update(step="confirm", name="", phone="")
        ctx.start_dialog("case", data, DIALOG_TTL)
        return _summary(data)
    confidential = "保密" in text
    text = text.replace("保密", " ")
    candidates = re.findall(r"[+\d][\d\s()（）-]{6,}\d", text)
    phone = next((valid_phone(c.replace("-", "")) for c in candidates
                  if valid_phone(c.replace("-", ""))), None)
    if phone is None:
        return ("没有认出电话号码。请回复姓名和手机号（11位）或带区号的座机，"
                "例如“张三 13800000000”" + ("" if disclosure else "；不留请回复“跳过”") + "。")
    name = text
    for candidate in candidates:
        name = name.replace(candidate, " ")
    name = " ".join(re.sub(r"[,，;；:：]", " ", name).split())[:40]
    if disclosure and not name:
        return "请同时回复申请人姓名（或单位名称），例如“张三 13800000000”。"
    data.update(name=name, phone=phone, confidential=confidential)
    data["step"] = "id_number" if disclosure else "confirm"
    ctx.start_dialog("case", data, DIALOG_TTL)
    return _prompt(data)


def _id_number(msg: Incoming, ctx, data: dict):
    value = re.sub(r"\s", "", msg.text).upper()
    if not re.fullmatch(r"[0-9A-Z]{15,18}", value):
        return "证件号码应为15到18位数字或字母，请重新回复。"
    data.update(id_number=value, step="form")
    ctx.start_dialog("case", data, DIALOG_TTL)
    return _prompt(data)


def _form(msg: Incoming, ctx, data: dict):
    chosen = _numbered(FORMS, msg.normalized)
    if chosen is None:
        return "请回复 1 到 4 之间的数字。\n" + _prompt(data)
    data.update(form=chosen, step="address" if chosen in FORMS[1:3] else "confirm")
    ctx.start_dialog("case", data, DIALOG_TTL)
    return _prompt(data)


def _address(msg: Incoming, ctx, data: dict):
    value = msg.text.strip()
    if data.get("form") == FORMS[1] and not _EMAIL.match(value):
        return "这不像一个邮箱地址，请重新回复，例如 name@example.com。"
    if data.get("form") == FORMS[2] and len(value) < 6:
        return "请回复完整的收件地址（省、市、县、乡镇、详细地址和收件人）。"
    data.update(address=value[:200], step="confirm")
    ctx.start_dialog("case", data, DIALOG_TTL)
    return _summary(data)


def _summary(data: dict) -> str:
    description = "\n".join(data.get("parts", []))
    if len(description) > 300:
        description = description[:300] + "……"
    lines = ["请核对：", f"类型：{data.get('class')}", f"内容：{description}"]
    if data.get("images"):
        lines.append(f"图片：{len(data['images'])}张")
    if data.get("phone"):
        lines.append(f"联系人：{data.get('name') or '（未留姓名）'} {mask_phone(data['phone'])}"
                     + ("（保密办理）" if data.get("confidential") else ""))
    if data.get("applicant"):
        lines.append(f"申请人类型：{data['applicant']}")
    if data.get("form"):
        lines.append(f"获取方式：{data['form']}" + (f"（{data['address']}）"
                                                  if data.get("address") else ""))
    lines.append("回复“确认”提交，回复“修改”重写内容，回复“取消”放弃。")
    if not data.get("phone") and data.get("class") != flow.DISCLOSURE:
        lines.append("如需工作人员联系您，可先回复姓名和电话，例如“张三 13800000000”。")
    return "\n".join(lines)


def _confirm(msg: Incoming, ctx, data: dict):
    text = msg.normalized
    if text == "修改":
        data.update(step="describe", parts=[], images=[])
        ctx.start_dialog("case", data, DIALOG_TTL)
        return "好的，请重新描述，写完回复“提交”。"
    if text not in CONFIRM:
        if data.get("class") != flow.DISCLOSURE and re.search(r"\d{7,}", msg.text):
            return _contact(msg, ctx, data)  # a name and phone given at the last step
        return "请回复“确认”提交，“修改”重写，或“取消”放弃。"
    ctx.leave_quick()  # opening the case uses the database
    intake_ = case_service.Intake(
        account=msg.account, openid=msg.openid, case_class=data["class"],
        description="\n".join(data.get("parts", [])), contact_name=data.get("name", ""),
        contact_phone=data.get("phone", ""), confidential=bool(data.get("confidential")),
        disclosure={key: data[key] for key in ("applicant", "id_number", "form", "address")
                    if data.get(key)},
        source_key=msg.msg_key, images=tuple(data.get("images", ())))
    with ctx.transaction() as session:
        case, created = case_service.open_case(session, intake_, ctx.runtime.vault,
                                               now=ctx.utcnow(), deadlines=ctx.deadlines)
        number, deadline = case.number, case.deadline
    ctx.end_dialog()
    head = "已受理" if created else "这条留言已经提交过了"
    return (f"{head}，编号 {number}。\n我们将在 {deadline:%Y年%m月%d日} 前答复"
            f"（{data['class']}：{ctx.deadlines[data['class']]}个工作日）。\n"
            f"回复“查询 {number}”查看进度，回复“我的留言”查看全部。")


STEPS = {"class": _choose_class, "describe": _describe, "applicant": _applicant,
         "contact": _contact, "id_number": _id_number, "form": _form, "address": _address,
         "confirm": _confirm}


# -- following a case --------------------------------------------------------------------
def _case_number(msg: Incoming) -> str:
    found = re.search(NUMBER, msg.normalized)
    return f"{found.group(1)}-{found.group(2)}"


@group.regex(rf"^(?:查询|查|进度|查进度)\s*{NUMBER}$")
def lookup(msg: Incoming, ctx, **_):
    """查询 编号：查看留言的办理进度和答复"""
    number = _case_number(msg)
    with ctx.session() as session:
        case = case_service.find_own(session, msg.account, msg.openid, number)
        if case is None:
            return f"没有找到您的编号为 {number} 的留言。回复“我的留言”查看您的全部留言。"
        replies = case_service.replies(session, case)
        lines = [f"编号 {case.number}（{case.case_class}）", f"状态：{case.state}",
                 f"答复期限：{case.deadline:%Y年%m月%d日}"]
        if case.extended_days:
            lines.append(f"（已依法延期{case.extended_days}个工作日）")
        for reply in replies:
            label = "通知" if reply.kind == "notice" else "答复"
            lines.append(f"{beijing(reply.at):%m月%d日} {label}：{reply.content}")
        if not replies:
            lines.append("还没有答复，工作人员正在办理。")
        if case.rating:
            lines.append(f"您的评价：{case.rating}")
    return "\n".join(lines)


@group.keyword("我的留言", "我的工单", "查询进度", "留言进度", "查询留言")
@group.menu("MY_CASES")
def my_cases(msg: Incoming, ctx):
    """我的留言：查看自己留言的编号和状态"""
    with ctx.session() as session:
        found = case_service.cases_of(session, msg.account, msg.openid)
        if not found:
            return "您还没有留言。回复“留言”开始。"
        lines = ["您最近的留言："]
        lines += [f"· {c.number} {c.case_class} {c.state}（期限 {c.deadline:%m月%d日}）"
                  for c in found]
    lines.append("回复“查询 编号”查看详情和答复。")
    return "\n".join(lines)


@group.regex(rf"^补正\s*{NUMBER}\s*[:：]?\s*(?P<text>\S.*)$")
def correct(msg: Incoming, ctx, text: str = "", **_):
    """补正 编号：内容  按要求补充依申请公开的申请"""
    number = _case_number(msg)
    with ctx.transaction() as session:
        case = case_service.find_own(session, msg.account, msg.openid, number)
        if case is None:
            return f"没有找到您的编号为 {number} 的留言。"
        try:
            deadline = case_service.corrected(session, case, text, now=ctx.utcnow())
        except flow.IllegalTransition:
            return f"编号 {number} 没有需要补正的内容。"
    return f"已收到补正内容。编号 {number} 将在 {deadline:%Y年%m月%d日} 前答复。"


@group.regex(rf"^撤回\s*{NUMBER}$")
def withdraw(msg: Incoming, ctx, **_):
    """撤回 编号：撤回还没答复的留言"""
    number = _case_number(msg)
    with ctx.transaction() as session:
        case = case_service.find_own(session, msg.account, msg.openid, number)
        if case is None:
            return f"没有找到您的编号为 {number} 的留言。"
        if case.state not in flow.OPEN_STATES:
            return f"编号 {number} 已{case.state}，不能撤回。"
        case_service.apply(session, case, "withdraw", "subscriber", now=ctx.utcnow())
    return f"编号 {number} 已撤回。"


# -- rating ------------------------------------------------------------------------------
def _rating(msg: Incoming, ctx):
    dialog = ctx.dialog
    number = dialog.data.get("case", "")
    if dialog.kind == "rate":
        rating = _numbered(flow.RATINGS, msg.normalized)
        if rating is None:
            if ctx.router.owner(msg) is not None:
                return NotHandled
            return NotHandled if len(msg.normalized) > 6 else \
                "请回复 1 到 5 之间的数字评价。\n" + rating_prompt(number)
        ctx.leave_quick()
        with ctx.transaction() as session:
            case = case_service.find_own(session, msg.account, msg.openid, number)
            if case is None or case.rated_at is not None:
                ctx.end_dialog()
                return "这件留言已经评价过了，谢谢！"
            reopened = case_service.rate(session, case, rating, now=ctx.utcnow())
        ctx.start_dialog("rate_comment", {"case": number, "rating": rating}, DIALOG_TTL)
        follow = ("很抱歉没能让您满意，这件留言已转督办，我们会重新办理并再次答复。"
                  if reopened else "谢谢您的评价！")
        return follow + "\n还有什么意见可以直接写下来；不写请回复“跳过”。"
    if msg.normalized in SKIP or msg.normalized in CANCEL:
        ctx.end_dialog()
        return "好的，谢谢！"
    if ctx.router.owner(msg) is not None:
        return NotHandled
    ctx.leave_quick()
    with ctx.transaction() as session:
        case = case_service.find_own(session, msg.account, msg.openid, number)
        if case is not None:
            case_service.comment_rating(session, case, msg.text.strip()[:500], now=ctx.utcnow())
    ctx.end_dialog()
    return "已记下您的意见，谢谢！"
