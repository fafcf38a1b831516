"""Console forms (Flask-WTF: each carries and checks a CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import IntegerField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange

from bot.services.report import OUTCOMES


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
