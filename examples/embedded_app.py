"""A FastAPI app of your own that signs its users in with frontdesk, as a library.

It shares frontdesk's database: people sign in through `frontdesk serve` (or its hosted pages),
and this app checks their session cookie or API key in-process, on every request, with the same
rules as the server (bans and revocations apply at once). Writes with a session cookie must come
from frontdesk's public URL or an allowed origin (here, the app's own).

Run it next to frontdesk on one database (cookies for 127.0.0.1 reach both ports):

    export FRONTDESK_DATABASE_URL=sqlite:///./frontdesk.db
    export FRONTDESK_PUBLIC_URL=http://127.0.0.1:8000 FRONTDESK_ALLOWED_ORIGINS=http://127.0.0.1:3000
    frontdesk migrate
    uvicorn --factory examples.embedded_app:create_app --port 3000
"""

# No `from __future__ import annotations` here: FastAPI reads the dependency aliases defined
# inside create_app() from the endpoints' annotations at runtime.
from typing import Annotated

from fastapi import Depends, FastAPI, status
from pydantic import BaseModel, ConfigDict, Field

from frontdesk import FrontdeskAuth, Principal, Settings


class NewNote(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Annotated[str, Field(min_length=1, max_length=1000)]


class Note(BaseModel):
    id: int
    author: str
    text: str


def create_app(settings: Settings | None = None) -> FastAPI:
    """The example app. Without `settings`, frontdesk's are read from the FRONTDESK_* environment."""
    auth = FrontdeskAuth(settings)
    app = FastAPI(title="notes", lifespan=auth.lifespan)
    auth.install(app)  # frontdesk's error shape, and its CSRF check for cookie-authenticated writes

    Visitor = Annotated[Principal | None, Depends(auth.optional_user)]
    User = Annotated[Principal, Depends(auth.require_user)]
    Admin = Annotated[Principal, Depends(auth.require_superuser)]
    # signed in (or re-authenticated) within the last 5 minutes; `auth.require_aal(2)` would ask
    # for a second factor instead (both answer 401 insufficient_user_authentication, RFC 9470)
    Recent = Annotated[Principal, Depends(auth.require_fresh(300))]
    notes: dict[int, list[Note]] = {}

    @app.get("/")
    def home(visitor: Visitor) -> dict[str, str]:
        return {"hello": visitor.username if visitor else "stranger"}

    @app.get("/notes")
    def list_notes(user: User) -> list[Note]:
        return notes.get(user.user_id, [])

    @app.post("/notes", status_code=status.HTTP_201_CREATED)
    def add_note(body: NewNote, user: User) -> Note:
        mine = notes.setdefault(user.user_id, [])
        note = Note(id=len(mine) + 1, author=user.username, text=body.text)
        mine.append(note)
        return note

    @app.delete("/notes", status_code=status.HTTP_204_NO_CONTENT)
    def forget_notes(user: Recent) -> None:
        notes.pop(user.user_id, None)

    @app.get("/admin/stats")
    def stats(_: Admin) -> dict[str, int]:
        return {"authors": len(notes), "notes": sum(len(n) for n in notes.values())}

    return app
