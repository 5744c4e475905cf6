"""The texts shipped as version 1 of each document: short, honest, and marked as a template
the platform is to adapt (平台管理 → 用户协议和隐私政策 publishes its own as version 2, 3, …).

Paragraphs are separated by a blank line; the first paragraph of the privacy policy is its
summary (shown to a parent asked to consent for a child).
"""

# ruff: noqa: E501 - each paragraph is one line, as the editor on 平台管理 shows and saves it

from __future__ import annotations

TERMS_ZH = """\
【模板，请平台运营方修改后发布】本协议是您与本平台运营方之间关于使用统一身份认证服务的约定。注册或使用本平台，即表示您已阅读并同意本协议。

本平台为学校、老师、学生和家长提供一个统一的账号，用于登录学校接入的各类教育应用。账号由学校为师生开通，家长可以自行注册。

您应当使用真实姓名注册，妥善保管密码，不把账号借给他人使用。发现账号被他人使用时，请及时修改密码或联系学校、客服热线。

家长只能关联自己的孩子。关联时须提供孩子的真实姓名和身份证号，冒用他人身份的，我们将解除关联并保留追究责任的权利。

我们会尽力保证服务稳定，但可能因维护、升级或不可抗力暂停服务。协议更新后，我们会在页面上公布新版本和生效日期，并在需要时再次征求您的同意。"""

TERMS_EN = """\
[Template: the platform operator should adapt this text before publishing it] These terms are an agreement between you and the operator of this platform about the use of its single sign-on service. By signing up for or using the platform, you confirm that you have read and agree to these terms.

The platform gives schools, teachers, pupils and parents one account each, for signing in to the educational applications their schools use. Schools open the accounts of their teachers and pupils; parents may sign up themselves.

Sign up under your real name, keep your password safe and do not lend your account to anyone. If someone else has used your account, change your password at once or contact your school or the hotline.

A parent may link only their own children, giving the child's real name and ID card number. If someone uses another person's identity, we will remove the link and reserve the right to pursue the matter.

We do our best to keep the service available, but it may pause for maintenance, upgrades or events beyond our control. When these terms change, we publish the new version and its date on this page and ask for your agreement again where needed."""

PRIVACY_ZH = """\
【模板，请平台运营方修改后发布】我们只处理提供统一身份认证所必需的个人信息：姓名、账号、手机号或邮箱（如您绑定）、身份证号（用于关联家长和找回密码）、所在学校和班级，以及登录和安全记录。我们不出售您的个人信息，也不用于广告。

身份证号、手机号等在数据库中加密保存。登录、修改密码、重置密码等操作记入审计日志，仅学校管理员和平台管理员在职责范围内可以查看。

您登录学校接入的应用时，我们只向该应用提供您同意授权的信息。您可以在「应用授权」中查看和撤销授权。

不满十四周岁的儿童的个人信息，须经其父母或其他监护人同意后处理。家长关联孩子后，会被请求代孩子阅读并同意本政策。

您可以查看和更正自己的信息，修改密码，或联系学校和客服热线注销账号。本政策更新后，我们会公布新版本和日期，并再次征求同意。"""

PRIVACY_EN = """\
[Template: the platform operator should adapt this text before publishing it] We process only the personal information that single sign-on needs: your name, account, mobile number or email (if you bind one), ID card number (to link parents and recover passwords), your school and class, and sign-in and security records. We do not sell your personal information or use it for advertising.

ID card numbers, mobile numbers and similar identifiers are stored encrypted. Sign-ins, password changes and resets are recorded in an audit log that only school administrators and platform administrators may read, within their duties.

When you sign in to an application your school uses, we give it only the information you have agreed to share. You can see and withdraw these grants under "App authorizations".

The personal information of a child under fourteen is processed only with the consent of a parent or other guardian. A parent who links a child is asked to read and agree to this policy on the child's behalf.

You can see and correct your information, change your password, or ask your school or the hotline to close your account. When this policy changes, we publish the new version and its date and ask for consent again."""

DEFAULTS: dict[str, tuple[str, str]] = {
    "terms": (TERMS_ZH, TERMS_EN),
    "privacy": (PRIVACY_ZH, PRIVACY_EN),
}
