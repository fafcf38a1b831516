"""Console forms (Flask-WTF: each carries and checks a CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    Field,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Regexp, ValidationError

from bot.models.disputes import DISPUTE_KINDS, DISPUTE_RESULTS
from bot.models.pushes import AUDIENCES
from bot.services.pushes import MSGTYPES
from bot.services.report import OUTCOMES
from content.model import CATEGORIES


class LoginForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired("请输入用户名"), Length(max=64)])
    password = PasswordField("密码", validators=[DataRequired("请输入密码"), Length(max=256)])


class LogoutForm(FlaskForm):
    pass


class ReplyForm(FlaskForm):
    text = TextAreaField("答复内容", validators=[DataRequired("请填写答复内容"), Length(max=1500)])
    # 依申请公开 only: the outcome (条例 Art. 36), counted in the annual report's Table 3
    outcome = SelectField("办理结果（依申请公开）", choices=[SelectChoice("", "（请选择）")] + [
        SelectChoice(key, label) for key, label in OUTCOMES.items()], validate_choice=False)
    # checked by the view: required, and one of OUTCOMES, for 依申请公开 only


class NoteForm(FlaskForm):
    text = TextAreaField("内部备注", validators=[DataRequired("请填写备注"), Length(max=2000)])


class AssignForm(FlaskForm):
    department = StringField("承办部门", validators=[DataRequired("请填写承办部门"),
                                                  Length(max=100)])
    assignee = StringField("承办人", validators=[Length(max=64)])
    reason = StringField("原因", validators=[Length(max=500)])


class ActionForm(FlaskForm):
    """A button with nothing to fill in (办结); the CSRF token is the point."""


class ExtendForm(FlaskForm):
    days = IntegerField("延长工作日", validators=[DataRequired("请填写天数"),
                                              NumberRange(1, 20, "1到20个工作日")])
    reason = StringField("延期理由（将告知申请人）", validators=[DataRequired("请填写理由"),
                                                        Length(max=500)])


class CorrectionForm(FlaskForm):
    what = TextAreaField("需要补正的内容（将告知申请人）",
                         validators=[DataRequired("请填写需要补正的内容"), Length(max=1000)])


class BulkForm(FlaskForm):
    """督办's bulk actions on the inbox's selected cases."""

    action = SelectField("批量操作", choices=[SelectChoice("assign", "派单到部门"),
                                          SelectChoice("remind", "催办")])
    department = StringField("部门", validators=[Length(max=100)])
    reason = StringField("说明", validators=[Length(max=500)])


class ItemForm(FlaskForm):
    text = TextAreaField("条目（YAML）", validators=[DataRequired("条目不能为空"),
                                                 Length(max=200_000)])


class DisputeForm(FlaskForm):
    """A review or lawsuit about a disclosure decision (annual report, Table 4). Dates are
    text (an <input type=date>): bot/services/report_disputes.py parses and checks them with
    Chinese messages, as it does the kind, the result and the related case."""

    kind = SelectField("类型", choices=[SelectChoice("", "（请选择）")] + [
        SelectChoice(key, label) for key, label in DISPUTE_KINDS.items()], validate_choice=False)
    case_number = StringField("相关留言编号（如有）",
                              validators=[Length(max=16, message="留言编号不超过16个字符")])
    filed_on = StringField("立案（申请）日期", render_kw={"type": "date"},
                           validators=[DataRequired("请填写立案（申请）日期"),
                                       Length(max=10, message="立案日期格式不对")])
    result = SelectField("结果", choices=[SelectChoice(key, label) for key, label in
                                        DISPUTE_RESULTS.items()], validate_choice=False)
    decided_on = StringField("审结日期（已审结的填写）", render_kw={"type": "date"},
                             validators=[Length(max=10, message="审结日期格式不对")])
    note = TextAreaField("备注", validators=[Length(max=1000, message="备注不超过1000字")])


def _choices(labels: dict[str, str]) -> list[SelectChoice]:
    return [SelectChoice(key, label) for key, label in labels.items()]


def _printable(_form: FlaskForm, field: Field) -> None:
    """No control characters (a NUL is refused by PostgreSQL, the others are typos)."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in field.data or ""):
        raise ValidationError(f"{field.label.text}含有不可见的控制字符，请重新填写")


class PushForm(FlaskForm):
    """A one-off push of the ticked candidates and/or typed slugs. The account's choices are
    set by the view; bot/services/pushes.py checks the rest with Chinese messages."""

    account = SelectField("公众号", choices=[], validate_choice=False)
    slugs = StringField("其他条目（slug，空格或逗号分隔）",
                        validators=[Length(max=2000, message="条目不超过2000个字符"), _printable])
    due = StringField("发送时间（北京时间，空为立即）", render_kw={"type": "datetime-local"},
                      validators=[Length(max=32, message="时间格式不对"), _printable])
    audience = SelectField("推送对象", choices=_choices(AUDIENCES), validate_choice=False)
    topic = SelectField("主题（推送对象为订阅该主题的用户时）",
                        choices=[SelectChoice("", "（请选择）")] + _choices(CATEGORIES),
                        validate_choice=False)
    msgtype = SelectField("消息类型", choices=_choices(MSGTYPES), validate_choice=False)


class CancelForm(FlaskForm):
    reason = StringField("取消原因", validators=[Length(max=200, message="原因不超过200字"),
                                             _printable])


class PreviewForm(FlaskForm):
    openid = StringField("接收预览的微信 openid",
                         validators=[DataRequired("请填写接收预览的微信 openid"),
                                     Length(max=64, message="openid 不超过64个字符"),
                                     Regexp(r"^\s*[A-Za-z0-9_-]+\s*$",
                                            message="openid 只含字母、数字、下划线和连字符")])


class ScheduleForm(FlaskForm):
    """A digest schedule: a cron rule in Beijing time (checked by the service)."""

    account = SelectField("公众号", choices=[], validate_choice=False)
    name = StringField("名称", validators=[Length(max=64, message="名称不超过64个字符"),
                                         _printable])
    cron = StringField("定时规则（分 时 日 月 星期，北京时间）",
                       validators=[DataRequired("请填写定时规则"),
                                   Length(max=64, message="定时规则不超过64个字符"),
                                   _printable])
    msgtype = SelectField("消息类型", choices=_choices(MSGTYPES), validate_choice=False)
    active = BooleanField("启用")
