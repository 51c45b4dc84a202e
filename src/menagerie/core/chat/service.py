"""Sessions and messages, scoped to the caller's tenant (and, for non-admins, to the caller).

An object of another tenant is answered exactly as a missing one. Sessions are in
`sessions.py`, messages and history in `messages.py`, an agent turn's writes in `turns.py`;
this is the one service callers use.
"""

from __future__ import annotations

from menagerie.core.chat.turns import ChatTurns


class ChatService(ChatTurns):
    """`platform.chat`: every session and message operation."""
