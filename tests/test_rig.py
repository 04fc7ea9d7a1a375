from sqlalchemy import Engine, inspect


def test_every_backend_is_migrated(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert {
        "users",
        "sessions",
        "login_tokens",
        "password_reset_tokens",
        "signup_tokens",
        "auth_events",
    } <= tables
