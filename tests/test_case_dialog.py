"""Leaving a message through the webhook: every step, cancel, expiry, keywords mid-dialog,
bad phones, retries, 依申请公开, lookups, withdrawal and rating."""

from __future__ import annotations

import itertools
import re

import pytest
from sqlalchemy import func, select

from bot.models import Case, CaseEvent, CaseMessage, DialogState
from bot.services import case_flow as flow
from bot.services import cases as case_service
from bot.wechat.parse import parse_xml
from tests.wechat import event_xml, signed_query, text_xml, url

ON_BOTH_DATABASES = True  # tests/conftest.py: each test on SQLite and PostgreSQL

_ids = itertools.count(1000)


class Subscriber:
    def __init__(self, client, account, openid="oCase"):
        self.client, self.account, self.openid = client, account, openid
        self.last_body = ""

    def post(self, body: str) -> str:
        self.last_body = body
        response = self.client.post(url("/wechat", signed_query(self.account.token)), data=body)
        assert response.status_code == 200
        return parse_xml(response.data).get("Content", "") if response.data != b"success" else ""

    def say(self, text: str) -> str:
        return self.post(text_xml(text, openid=self.openid, msg_id=next(_ids)))

    def image(self, media_id: str) -> str:
        body = (f"<xml><ToUserName>gh_test</ToUserName><FromUserName>{self.openid}"
                f"</FromUserName><CreateTime>1700000000</CreateTime><MsgType>image</MsgType>"
                f"<PicUrl>http://img/x.jpg</PicUrl><MediaId>{media_id}</MediaId>"
                f"<MsgId>{next(_ids)}</MsgId></xml>")
        return self.post(body)

    def tap(self, key: str) -> str:
        return self.post(event_xml("CLICK", openid=self.openid, key=key,
                                   create_time=1700000000 + next(_ids)))

    def retry(self) -> str:
        return self.post(self.last_body)


@pytest.fixture
def sub(client, account):
    return Subscriber(client, account)


def cases(runtime):
    with runtime.sessionmaker() as session:
        return list(session.scalars(select(Case).order_by(Case.id)))


def dialog(runtime, openid="oCase"):
    with runtime.sessionmaker() as session:
        return session.scalars(select(DialogState).where(DialogState.openid == openid)).first()


NUMBER = re.compile(r"编号 (\d{8}-\d{4})")


def test_the_whole_intake(sub, runtime):
    assert "请选择留言类型" in sub.say("留言")
    assert "类型：投诉" in sub.say("3")
    assert "第1段" in sub.say("我们村2025年的产业补助到现在还没有发放。")
    assert "共1张" in sub.image("media-1")
    assert "第2段" in sub.say("村委会说在等乡里的通知")
    prompt = sub.say("提交")
    assert "是否留下姓名和电话" in prompt and "不会公开" in prompt
    summary = sub.say("李四 138 0013 8000")
    assert "请核对" in summary and "138****8000" in summary and "图片：1张" in summary
    done = sub.say("确认")
    number = NUMBER.search(done).group(1)
    assert "已受理" in done and "前答复" in done
    [case] = cases(runtime)
    assert case.number == number and case.case_class == "投诉" and case.state == flow.NEW
    assert "产业补助" in case.description and "乡里的通知" in case.description
    assert runtime.vault.open(case.contact_phone_enc) == "13800138000"
    assert runtime.vault.open(case.contact_name_enc) == "李四"
    assert case.deadline == flow.deadline("投诉", case.received_at.date())
    with runtime.sessionmaker() as session:
        kinds = sorted(m.kind for m in session.scalars(select(CaseMessage)))
    assert kinds == ["image", "text"]
    assert dialog(runtime) is None


def test_class_by_keyword_and_skipping_contact(sub, runtime):
    assert "类型：咨询" in sub.say("咨询")
    sub.say("我家去年脱贫了，今年医保还有补贴吗")
    sub.say("提交")
    summary = sub.say("跳过")
    assert "请核对" in summary and "联系人" not in summary
    assert "已受理" in sub.say("确定")
    assert cases(runtime)[0].contact_phone_enc == ""


def test_one_shot_goes_straight_to_confirmation(sub, runtime):
    reply = sub.say("投诉：村里的危房改造补助没有发放到户")
    assert "请核对" in reply and "可先回复姓名和电话" in reply
    sub.say("确认")
    [case] = cases(runtime)
    assert case.case_class == "投诉" and case.description == "村里的危房改造补助没有发放到户"


def test_contact_can_be_given_at_the_confirmation(sub, runtime):
    sub.say("求助：家里老人看病的钱不够")
    again = sub.say("赵六 13700137000")
    assert "请核对" in again and "137****7000" in again
    sub.say("确认")
    assert runtime.vault.open(cases(runtime)[0].contact_phone_enc) == "13700137000"


def test_cancel_at_every_step_leaves_nothing(sub, runtime):
    steps = [["留言"], ["留言", "1"], ["咨询", "问题"], ["咨询", "问题", "提交"],
             ["咨询", "问题", "提交", "跳过"]]
    for path in steps:
        for text in path:
            sub.say(text)
        assert "已取消" in sub.say("取消"), path
        assert dialog(runtime) is None
    assert cases(runtime) == []


def test_bad_choices_and_phones_are_explained_and_the_step_kept(sub, runtime):
    sub.say("留言")
    assert "1 到 6" in sub.say("9")
    assert "1 到 6" in sub.say("随便")
    sub.say("2")
    assert "还没有收到您的描述" in sub.say("提交")
    sub.say("家里老人看病花了很多钱")
    sub.say("提交")
    assert "没有认出电话号码" in sub.say("张三 12345")
    assert "没有认出电话号码" in sub.say("我不知道")
    assert "请核对" in sub.say("张三，0871-6512 3456")
    assert "请回复“确认”" in sub.say("嗯嗯")
    assert "已受理" in sub.say("确认")
    assert runtime.vault.open(cases(runtime)[0].contact_phone_enc) == "087165123456"


def test_keywords_mid_dialog_are_answered_and_the_dialog_waits(sub, runtime):
    sub.say("投诉")
    sub.say("补助没有发放")
    assert "可以这样使用" in sub.say("帮助")
    assert "没有找到您的编号" in sub.say("查询 20200101-0001")
    resume = sub.say("留言")
    assert "还没提交的留言" in resume and "已写1段" in resume
    assert "接着来" in sub.say("继续")
    assert "第2段" in sub.say("已经三个月了")
    sub.say("提交")
    sub.say("跳过")
    sub.say("确认")
    assert cases(runtime)[0].description == "补助没有发放\n已经三个月了"


def test_restart_and_modify(sub, runtime):
    sub.say("投诉")
    sub.say("写错了的内容")
    sub.say("留言")
    assert "请选择留言类型" in sub.say("重新开始")
    sub.say("建议")
    sub.say("第一版")
    sub.say("提交")
    sub.say("跳过")
    assert "重新描述" in sub.say("修改")
    sub.say("第二版")
    sub.say("提交")
    sub.say("跳过")
    sub.say("确认")
    [case] = cases(runtime)
    assert case.case_class == "意见建议" and case.description == "第二版"


def test_an_expired_dialog_is_gone(sub, runtime):
    sub.say("投诉")
    with runtime.sessionmaker.begin() as session:
        state = session.scalars(select(DialogState)).one()
        state.expires_at = state.expires_at.replace(year=2000)
    reply = sub.say("补助没有发放")
    assert "第1段" not in reply  # an ordinary question now


def test_a_retried_confirmation_makes_one_case_and_gets_the_same_answer(sub, runtime):
    sub.say("咨询")
    sub.say("问一下养老保险补贴")
    sub.say("提交")
    sub.say("跳过")
    first = sub.say("确认")
    assert sub.retry() == first
    assert len(cases(runtime)) == 1


def test_the_same_text_twice_within_minutes_is_one_case(sub, runtime):
    for _ in range(2):
        sub.say("投诉：同一件事情说两遍")
        reply = sub.say("确认")
    assert "已经提交过了" in reply
    assert len(cases(runtime)) == 1


def test_disclosure_request_collects_what_article_29_requires(sub, runtime):
    assert "申请公开的政府信息" in sub.say("申请公开")
    sub.say("2025年本县财政专项扶贫资金分配结果")
    assert "申请人是" in sub.say("提交")
    assert "姓名" in sub.say("1")
    assert "需要申请人姓名" in sub.say("跳过")
    assert "证件号码" in sub.say("王五 13900139000")
    assert "15到18位" in sub.say("12345")
    assert "获取信息" in sub.say("53010219900101123X")
    assert "邮箱" in sub.say("2")
    assert "不像一个邮箱" in sub.say("not-an-email")
    summary = sub.say("wangwu@example.com")
    assert "申请人类型：自然人" in summary and "电子邮件" in summary
    sub.say("确认")
    [case] = cases(runtime)
    assert case.case_class == flow.DISCLOSURE
    assert case.disclosure["applicant"] == "自然人" and case.disclosure["form"] == "电子邮件"
    assert case.disclosure["address"] == "wangwu@example.com"
    assert case.disclosure["id_number"] != "53010219900101123X"  # sealed
    assert runtime.vault.open(case.disclosure["id_number"]) == "53010219900101123X"
    assert case.deadline == flow.deadline(flow.DISCLOSURE, case.received_at.date())


def test_menu_buttons_start_and_list(sub, runtime):
    assert "请选择留言类型" in sub.tap("LEAVE_MESSAGE")
    sub.say("取消")
    assert "还没有留言" in sub.tap("MY_CASES")


def test_lookup_and_list_show_only_ones_own_cases(client, account, sub, runtime):
    sub.say("咨询：低保和扶贫能一起享受吗")
    number = NUMBER.search(sub.say("确认")).group(1)
    mine = sub.say(f"查询 {number}")
    assert number in mine and "待受理" in mine and "还没有答复" in mine
    assert sub.say(f"查询{number.replace('-', '')}").startswith(f"编号 {number}")
    assert number in sub.say("我的留言")
    other = Subscriber(client, account, "oSomeoneElse")
    assert "没有找到" in other.say(f"查询 {number}")
    assert "还没有留言" in other.say("我的留言")
    assert "没有找到" in other.say(f"撤回 {number}")


def test_withdraw_an_open_case_but_not_an_answered_one(sub, runtime):
    sub.say("建议：村里的路灯坏了")
    number = NUMBER.search(sub.say("确认")).group(1)
    assert "已撤回" in sub.say(f"撤回 {number}")
    assert cases(runtime)[0].state == flow.WITHDRAWN
    assert "不能撤回" in sub.say(f"撤回 {number}")


def answered_case(sub, runtime) -> str:
    sub.say("咨询：贫困户的认定标准是什么")
    number = NUMBER.search(sub.say("确认")).group(1)
    with runtime.sessionmaker.begin() as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
        case_service.apply(session, case, "accept", "staff:test")
        case_service.apply(session, case, "reply", "staff:test", text="详见认定标准。")
    return number


def start_rating(runtime, number: str, openid="oCase"):
    from bot.services import dialogs

    with runtime.engine.begin() as conn:
        dialogs.apply(conn, "default", openid, dialogs.Change(dialogs.Dialog(
            "rate", {"case": number}, dialogs.utcnow().replace(year=2099))))


def test_a_good_rating_closes_and_a_comment_is_kept(sub, runtime):
    number = answered_case(sub, runtime)
    start_rating(runtime, number)
    assert "1 到 5" in sub.say("哈")
    assert "谢谢您的评价" in sub.say("2")
    assert "记下您的意见" in sub.say("答复很及时")
    [case] = cases(runtime)
    assert (case.rating, case.state, case.rating_comment) == ("满意", flow.CLOSED, "答复很及时")
    with runtime.sessionmaker() as session:
        actions = [e.action for e in session.scalars(select(CaseEvent).order_by(CaseEvent.id))]
    assert actions[-3:] == ["rate", "close", "rating_comment"]


def test_a_bad_rating_reopens_for_supervision(sub, runtime):
    number = answered_case(sub, runtime)
    start_rating(runtime, number)
    assert "转督办" in sub.say("不满意")
    assert "好的" in sub.say("跳过")
    [case] = cases(runtime)
    assert case.rating == "不满意" and case.state == flow.HANDLING
    start_rating(runtime, number)
    assert "已经评价过" in sub.say("1")


def test_odd_input_never_breaks_the_dialog(sub, runtime):
    sub.say("留言")
    for text in ("", " ", "<xml>", "]]", "1" * 3000, "\u202e\u0000"[:1], "😀" * 50):
        if text.strip():
            assert sub.say(text)
    with runtime.sessionmaker() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 0


def test_a_correction_is_sent_by_the_subscriber_with_the_number(sub, runtime):
    sub.say("申请公开")
    sub.say("那个文件")
    sub.say("提交")
    sub.say("1")
    sub.say("王五 13900139000")
    sub.say("53010219900101123X")
    sub.say("1")
    number = NUMBER.search(sub.say("确认")).group(1)
    assert "没有需要补正" in sub.say(f"补正 {number}：文号是云开组〔2018〕5号")
    with runtime.sessionmaker.begin() as session:
        case = session.scalars(select(Case)).one()
        case_service.request_correction(session, case, "staff:李", "请写明文件名称或文号")
    reply = sub.say(f"补正 {number}：文号是云开组〔2018〕5号")
    assert "已收到补正内容" in reply and "前答复" in reply
    with runtime.sessionmaker() as session:
        texts = [m.content for m in session.scalars(select(CaseMessage))]
    assert "文号是云开组〔2018〕5号" in texts
