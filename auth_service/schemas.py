"""Request and response bodies of the auth API."""

from marshmallow import Schema, fields, validate

from service_kit.pagination import PaginationQueryArgsSchema
from service_kit.validation import Email, PatchSchema, SingleLineText, Str

from .models import EMAIL_MAX_LENGTH, FULL_NAME_MAX_LENGTH

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128
# A login never needs more; longer input is refused before anything is hashed.
LOGIN_PASSWORD_MAX_LENGTH = 1024
REFRESH_TOKEN_MAX_LENGTH = 256


class RegisterSchema(Schema):
    email = Email(required=True, validate=validate.Length(max=EMAIL_MAX_LENGTH))
    password = Str(
        required=True,
        load_only=True,
        validate=validate.Length(min=PASSWORD_MIN_LENGTH, max=PASSWORD_MAX_LENGTH),
    )
    full_name = SingleLineText(
        required=True, validate=validate.Length(min=1, max=FULL_NAME_MAX_LENGTH)
    )


class LoginSchema(Schema):
    email = Str(required=True, validate=validate.Length(min=1, max=EMAIL_MAX_LENGTH))
    password = Str(
        required=True, load_only=True, validate=validate.Length(max=LOGIN_PASSWORD_MAX_LENGTH)
    )


class RefreshRequestSchema(Schema):
    # Absent: the refresh token comes from the HttpOnly cookie (browsers, with `X-CSRF: 1`).
    refresh_token = fields.String(validate=validate.Length(min=1, max=REFRESH_TOKEN_MAX_LENGTH))


class TokenPairSchema(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(
        required=True, metadata={"description": "Seconds until the access token expires"}
    )
    refresh_token = fields.String(
        metadata={"description": "Also set as an HttpOnly cookie; left out for `X-CSRF: 1`"}
    )


class UserSchema(Schema):
    id = fields.Integer(required=True)
    email = fields.String(required=True)
    full_name = fields.String(required=True)
    role = fields.Function(lambda user: user.role.name, required=True)
    is_active = fields.Boolean(required=True)
    email_verified = fields.Boolean(
        required=True,
        metadata={"description": "False until the link of the verification mail is followed"},
    )
    created_at = fields.DateTime(required=True)


class MeSchema(UserSchema):
    permissions = fields.Function(
        lambda user: user.role.permission_names if user.email_verified else [],
        required=True,
        metadata={"description": "What the caller may do now: none until the address is verified"},
    )


class UserQueryArgsSchema(PaginationQueryArgsSchema):
    query = Str(
        validate=validate.Length(min=1, max=100),
        metadata={
            "description": "Part of the email or full name, any letter case; not blank",
            "pattern": r"\S",
        },
    )


class UserUpdateSchema(PatchSchema):
    role = Str(
        validate=validate.Length(min=1, max=32),
        metadata={"enum": ["student", "teacher", "admin"]},
    )
    is_active = fields.Boolean()
    # An admin who knows the address is the owner's (the support desk) may vouch for it.
    email_verified = fields.Boolean(
        validate=validate.Equal(True, error="An address can be marked verified, not unverified.")
    )


class IdentityProviderSchema(Schema):
    name = fields.String(required=True, metadata={"example": "university"})
    label = fields.String(required=True, metadata={"example": "Войти через университет"})
    login_url = fields.String(
        required=True,
        metadata={
            "description": "Open it in the browser (a navigation, not a fetch) to sign in",
            "example": "/api/auth/oidc/university/login",
        },
    )


class ProviderLoginQueryArgsSchema(Schema):
    next = Str(
        validate=validate.Length(max=200),
        metadata={"description": "The web UI route to land on, e.g. `/#/courses/3`"},
    )


class ProviderLinkSchema(Schema):
    authorization_url = fields.String(
        required=True, metadata={"description": "The provider's sign-in page: navigate to it"}
    )


class LogoutSchema(Schema):
    end_session_url = fields.String(
        required=True,
        metadata={"description": "The provider's logout page, to end its session as well"},
    )


class VerifyEmailSchema(Schema):
    token = Str(required=True, validate=validate.Length(min=1, max=REFRESH_TOKEN_MAX_LENGTH))


class PasswordResetRequestSchema(Schema):
    email = Str(required=True, validate=validate.Length(min=1, max=EMAIL_MAX_LENGTH))


class PasswordResetSchema(Schema):
    token = Str(required=True, validate=validate.Length(min=1, max=REFRESH_TOKEN_MAX_LENGTH))
    password = Str(
        required=True,
        load_only=True,
        validate=validate.Length(min=PASSWORD_MIN_LENGTH, max=PASSWORD_MAX_LENGTH),
    )


class MessageSchema(Schema):
    message = fields.String(required=True)
