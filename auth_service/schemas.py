"""Request and response bodies of the auth API."""

import unicodedata

from marshmallow import Schema, ValidationError, fields, validate, validates

from service_kit.pagination import PaginationQueryArgsSchema

from .models import EMAIL_MAX_LENGTH, FULL_NAME_MAX_LENGTH

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128
# A login never needs more; longer input is refused before anything is hashed.
LOGIN_PASSWORD_MAX_LENGTH = 1024
REFRESH_TOKEN_MAX_LENGTH = 256


def _printable(value: str) -> None:
    if any(unicodedata.category(char) in ("Cc", "Cf", "Cs") for char in value):
        raise ValidationError("Control characters are not allowed.")


class RegisterSchema(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=EMAIL_MAX_LENGTH))
    password = fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(min=PASSWORD_MIN_LENGTH, max=PASSWORD_MAX_LENGTH),
    )
    full_name = fields.String(
        required=True, validate=validate.Length(min=1, max=FULL_NAME_MAX_LENGTH)
    )

    @validates("full_name")
    def _full_name(self, value: str, **kwargs) -> None:
        if not value.strip():
            raise ValidationError("Enter a name.")
        _printable(value)


class LoginSchema(Schema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=EMAIL_MAX_LENGTH))
    password = fields.String(
        required=True, load_only=True, validate=validate.Length(max=LOGIN_PASSWORD_MAX_LENGTH)
    )


class RefreshTokenSchema(Schema):
    refresh_token = fields.String(
        required=True, validate=validate.Length(min=1, max=REFRESH_TOKEN_MAX_LENGTH)
    )


class TokenPairSchema(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(
        required=True, metadata={"description": "Seconds until the access token expires"}
    )
    refresh_token = fields.String(required=True)


class UserSchema(Schema):
    id = fields.Integer(required=True)
    email = fields.String(required=True)
    full_name = fields.String(required=True)
    role = fields.Function(lambda user: user.role.name, required=True)
    is_active = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)


class MeSchema(UserSchema):
    permissions = fields.Function(lambda user: user.role.permission_names, required=True)


class UserQueryArgsSchema(PaginationQueryArgsSchema):
    query = fields.String(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "Part of the email or full name, any letter case"},
    )


class UserUpdateSchema(Schema):
    role = fields.String(validate=validate.Length(min=1, max=32))
    is_active = fields.Boolean()
