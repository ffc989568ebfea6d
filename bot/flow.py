"""One conversation engine for every multi-step conversation (check-in, request, notice …).

A flow is declared as data: how it starts (a command, a button), its steps (the question's
template and keyboard, and the answers it takes), who may hold it, and how long it waits.
The engine provides the rest once: the member-or-staff guard, /cancel, buttons of earlier
steps, unexpected input, the idle limit, and the one rule that matters most to people —
one open conversation per chat: a command that starts another conversation ends the open
one and says so in one line, and what is typed next belongs to the new one.

The conversation and its draft live in the database (storage/conversations.py), read at
the start of each turn and written at its end, so a restart continues it from its step.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final, Generic, TypeVar

from pydantic import TypeAdapter, ValidationError
from telegram import InlineKeyboardMarkup, Message, ReplyKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, BaseHandler, filters

from bot.access import refuse
from bot.commands import Audience
from bot.context import LiaisonContext
from bot.replies import (
    REMOVE_KEYBOARD,
    Markup,
    label,
    render,
    reply,
    retire_pressed_button,
    send_html,
)
from messages.callbacks import Action
from storage import conversations
from storage.conversations import OpenConversation

log = logging.getLogger(__name__)

D = TypeVar("D")

# What a step handler returns when the conversation is over.
END: Final = "end"

# How long a conversation waits for its next answer, unless its flow says otherwise: an
# answer that comes later ("你好" a week on is not a place) is not taken; the draft goes.
IDLE_LIMIT: Final = timedelta(hours=12)

StepHandler = Callable[[Update, LiaisonContext, D], Awaitable[str]]
StartHandler = Callable[[Update, LiaisonContext], Awaitable[str]]
Values = Callable[[LiaisonContext, D], Mapping[str, Any] | Awaitable[Mapping[str, Any]]]
Keyboard = Callable[[LiaisonContext, D], Markup | Awaitable[Markup | None] | None]

AnyAction = Action[*tuple[Any, ...]]

# New messages only: an edited message is not an answer (fallback says so).
_MESSAGE = filters.UpdateType.MESSAGE
TYPED = _MESSAGE & filters.TEXT & ~filters.COMMAND
PIN = _MESSAGE & filters.LOCATION
PHOTO = _MESSAGE & filters.PHOTO
DOCUMENT = _MESSAGE & filters.Document.ALL


@dataclass(frozen=True, slots=True)
class Answer(Generic[D]):
    """What a step takes: a kind of message (filter) or a press of a button (action)."""

    handler: StepHandler[D]
    filter: filters.BaseFilter | None = None
    action: AnyAction | None = None
    # The handler answers the press itself (with a toast); otherwise the engine does first.
    toast: bool = False

    def takes(self, update: Update) -> bool:
        if self.action is not None:
            data = update.callback_query.data if update.callback_query else None
            return data is not None and re.match(self.action.any_pattern, data) is not None
        return self.filter is not None and bool(self.filter.check_update(update))


def typed(handler: StepHandler[D]) -> Answer[D]:
    return Answer(handler, filter=TYPED)


def pin(handler: StepHandler[D]) -> Answer[D]:
    return Answer(handler, filter=PIN)


def photo(handler: StepHandler[D]) -> Answer[D]:
    return Answer(handler, filter=PHOTO)


def document(handler: StepHandler[D]) -> Answer[D]:
    return Answer(handler, filter=DOCUMENT)


def press(action: AnyAction, handler: StepHandler[D], *, toast: bool = False) -> Answer[D]:
    return Answer(handler, action=action, toast=toast)


@dataclass(frozen=True, slots=True)
class Step(Generic[D]):
    """One question: its template, its keyboard and values (from the draft), its answers."""

    template: str
    answers: Sequence[Answer[D]]
    keyboard: Keyboard[D] | None = None
    values: Values[D] | None = None
    # A step that only says why an answer was refused (its question is another step's):
    # after something unexpected, that question is asked again, not the refusal.
    retry: str | None = None

    @property
    def buttons_only(self) -> bool:
        """Answered with a button: a typed line here gets a reminder to press one."""
        return all(answer.action is not None for answer in self.answers)


@dataclass(frozen=True, slots=True)
class Start:
    """How a flow begins: a command in a private chat, or a button under some message."""

    handler: StartHandler
    command: str | None = None
    action: AnyAction | None = None
    toast: bool = False

    def takes(self, update: Update) -> bool:
        if self.action is not None:
            data = update.callback_query.data if update.callback_query else None
            return data is not None and re.match(self.action.any_pattern, data) is not None
        return self.command is not None and _command(update) == self.command


@dataclass(slots=True)
class Conversation:
    """The open conversation during one turn: its flow, its stored state and its draft."""

    flow: Flow[Any]
    state: OpenConversation
    draft: Any
    # What the database holds of it (step, question, draft): a turn that changed none of
    # them (an old button, /help) writes nothing, and a question is written once.
    stored: tuple[str, int | None, Any] | None = None


class Flow(Generic[D]):
    """A multi-step conversation whose answers are kept in a draft of type D (a dataclass,
    stored as JSON) until its last step does what it is for.

    templates names the flow's own texts: <templates>/expired, /cancelled, /stale_button
    and /unexpected (given step, buttons and what unexpected_values adds).
    """

    def __init__(
        self,
        name: str,
        draft: type[D],
        *,
        audience: Audience,
        templates: str,
        starts: Sequence[Start],
        steps: Mapping[str, Step[D]],
        idle_limit: timedelta = IDLE_LIMIT,
        not_member: str | None = None,
        not_member_values: Callable[[LiaisonContext], Mapping[str, Any]] | None = None,
        cancel_action: AnyAction | None = None,
        on_cancel: StepHandler[D] | None = None,
        unexpected: StepHandler[D] | None = None,
        unexpected_values: Values[D] | None = None,
        values: Values[D] | None = None,
    ) -> None:
        self.name = name
        self.adapter: TypeAdapter[D] = TypeAdapter(draft)
        self.audience = audience
        self.templates = templates
        self.starts = starts
        self.steps = steps
        self.idle_limit = idle_limit
        self.not_member = not_member
        # What the not_member template says may depend on who asked (staff are pointed
        # to their own command).
        self.not_member_values = not_member_values
        self.cancel_action = cancel_action
        self.on_cancel = on_cancel
        self.unexpected_handler = unexpected
        self.unexpected_values = unexpected_values
        # Values every question of the flow is rendered with.
        self.values = values
        # Every button that belongs to a step: a press of one that is not the current
        # question's is an old button of this flow.
        self.actions: tuple[AnyAction, ...] = tuple(
            answer.action
            for step in steps.values()
            for answer in step.answers
            if answer.action is not None
        ) + ((cancel_action,) if cancel_action is not None else ())

    # --- what step handlers call ---------------------------------------------------------

    async def begin(
        self,
        update: Update,
        context: LiaisonContext,
        draft: D,
        step: str,
        *,
        lead: str | None = None,
        **values: Any,
    ) -> str:
        """Open this flow in the chat with draft, and ask step. Another open conversation
        ends here (its buttons go) and the first reply says so in one line."""
        previous = context.conversation
        if previous is not None:
            await _drop_buttons(update, context, previous.state.question_id)
            if previous.flow is not self:
                what = label(context, f"flow.{previous.flow.name}")
                if await previous.flow._shows_reply_keyboard(context, previous):
                    # The old question's keyboard stands in for the phone's; a question with
                    # buttons of its own cannot take it away, so the one line goes alone.
                    await reply(update, context, "flow/ended", markup=REMOVE_KEYBOARD, what=what)
                else:
                    context.lead = render(context, "flow/ended", what=what)
        chat, user = update.effective_chat, update.effective_user
        assert chat is not None and user is not None
        now = context.now()
        state = OpenConversation(
            chat_id=chat.id,
            user_id=user.id,
            flow=self.name,
            step=step,
            draft={},
            question_id=None,
            started_at=now,
            touched_at=now,
            expires_at=now + self.idle_limit,
            platform=context.platform,
        )
        context.conversation = Conversation(self, state, draft)
        return await self.ask(update, context, draft, step, lead=lead, **values)

    async def ask(
        self,
        update: Update,
        context: LiaisonContext,
        draft: D,
        step: str,
        *,
        lead: str | None = None,
        **values: Any,
    ) -> str:
        """Ask step's question (again) and make it the current step; lead (the answer just
        noted, or why it was not taken) opens the same message. Returns step."""
        conversation = self._current(context)
        await self.drop_buttons(update, context)
        question = self.steps[step]
        conversation.state.step = step
        markup = await _maybe(question.keyboard(context, draft)) if question.keyboard else None
        given: dict[str, Any] = {}
        for source in (self.values, question.values):
            if source is not None:
                given.update(await _maybe(source(context, draft)))
        given.update(values)
        # Stored before it is asked: killed between the two, the service still knows the
        # step the person sees (the question's id follows at the end of the turn).
        await _store(context, conversation)
        message = await reply(update, context, question.template, markup=markup, lead=lead, **given)
        if isinstance(markup, InlineKeyboardMarkup):
            conversation.state.question_id = message.message_id
        return step

    async def again(
        self, update: Update, context: LiaisonContext, draft: D, *, lead: str | None = None
    ) -> str:
        """Ask the current question again, after lead (why the answer was not taken)."""
        return await self.ask(update, context, draft, self.step(context), lead=lead)

    def step(self, context: LiaisonContext) -> str:
        """The step the conversation is at."""
        return self._current(context).state.step

    async def drop_buttons(self, update: Update, context: LiaisonContext) -> None:
        """Remove the buttons under the current question, so an old button cannot be pressed."""
        conversation = self._current(context)
        question_id, conversation.state.question_id = conversation.state.question_id, None
        await _drop_buttons(update, context, question_id)

    def answered(self, context: LiaisonContext) -> None:
        """The pressed question was edited to show the answer: its buttons are gone."""
        self._current(context).state.question_id = None

    async def close(self, update: Update, context: LiaisonContext) -> None:
        """End this flow if it is the chat's open conversation, because the person moved on
        to something that makes it moot (a staff member typing a note for one request who
        presses a button of another's card): its buttons go, the stored row goes, and the
        next reply of the turn says so in one line. Called by plain handlers (group 1)."""
        conversation = context.conversation
        if conversation is None or conversation.flow is not self:
            return
        chat, user = update.effective_chat, update.effective_user
        assert chat is not None and user is not None
        await _drop_buttons(update, context, conversation.state.question_id)
        context.conversation = None
        context.lead = render(context, "flow/ended", what=label(context, f"flow.{self.name}"))
        async with context.services.db.session() as session:
            await conversations.end(session, chat.id, user.id, context.platform)

    async def _shows_reply_keyboard(
        self, context: LiaisonContext, conversation: Conversation
    ) -> bool:
        step = self.steps.get(conversation.state.step)
        if step is None or step.keyboard is None:
            return False
        markup = await _maybe(step.keyboard(context, conversation.draft))
        return isinstance(markup, ReplyKeyboardMarkup)

    def _current(self, context: LiaisonContext) -> Conversation:
        conversation = context.conversation
        assert conversation is not None and conversation.flow is self, "not in this flow"
        return conversation

    # --- what the engine does for every flow ----------------------------------------------

    def may_hold(self, context: LiaisonContext) -> bool:
        identity = context.identity
        if self.audience is Audience.MEMBERS:
            return identity is not None and identity.member_id is not None
        if self.audience is Audience.STAFF:
            return context.staff() is not None
        return True

    async def refuse(self, update: Update, context: LiaisonContext) -> None:
        if self.audience is Audience.MEMBERS and self.not_member is not None:
            values = self.not_member_values(context) if self.not_member_values else {}
            await reply(update, context, self.not_member, **values)
        else:
            await refuse(update, context)

    async def cancel(self, update: Update, context: LiaisonContext, draft: D) -> str:
        """/cancel or the cancel button: the draft is dropped."""
        if self.on_cancel is not None:
            return await self.on_cancel(update, context, draft)
        await self.drop_buttons(update, context)
        await reply(update, context, f"{self.templates}/cancelled", markup=REMOVE_KEYBOARD)
        return END

    async def unexpected(self, update: Update, context: LiaisonContext, draft: D) -> str:
        """A sticker, a photo, or a typed line where a button is expected: say what to do
        and ask the same question again (the draft is kept)."""
        if self.unexpected_handler is not None:
            return await self.unexpected_handler(update, context, draft)
        step = self.step(context)
        step = self.steps[step].retry or step
        extra = {}
        if self.unexpected_values is not None:
            extra = await _maybe(self.unexpected_values(context, draft))
        lead = render(
            context,
            f"{self.templates}/unexpected",
            step=step,
            buttons=self.steps[step].buttons_only,
            **extra,
        )
        return await self.ask(update, context, draft, step, lead=lead)

    async def stale_button(self, update: Update, context: LiaisonContext) -> None:
        """A button of this flow from a finished, abandoned or earlier step: say so."""
        await retire_pressed_button(update)
        await reply(update, context, f"{self.templates}/stale_button")

    def owns(self, update: Update) -> bool:
        data = update.callback_query.data if update.callback_query else None
        return data is not None and any(
            re.match(action.any_pattern, data) for action in self.actions
        )


async def _store(context: LiaisonContext, conversation: Conversation) -> None:
    """Write the conversation as it stands (step, draft, question) to the database."""
    flow, state = conversation.flow, conversation.state
    state.draft = flow.adapter.dump_python(conversation.draft, mode="json")
    written = (state.step, state.question_id, state.draft)
    if written == conversation.stored:
        return
    async with context.services.db.session() as session:
        await conversations.save(session, context.now(), state, flow.idle_limit)
    conversation.stored = written


async def _maybe(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def _drop_buttons(update: Update, context: LiaisonContext, question_id: int | None) -> None:
    chat = update.effective_chat
    if question_id is None or chat is None:
        return
    # Already gone or too old to edit: nothing left to remove. Any other failure leaves an
    # old button, which says so when pressed: not worth failing the turn for.
    with contextlib.suppress(TelegramError):
        await context.bot.edit_message_reply_markup(chat.id, question_id, reply_markup=None)


def _asked_by(state: OpenConversation, message: object) -> bool:
    """Whether a pressed button's message is the current question. No question id: the
    service stopped after asking, before noting which message asked; a button of the
    current step is taken from whichever message."""
    return state.question_id is None or (
        isinstance(message, Message) and message.message_id == state.question_id
    )


def _command(update: Update) -> str | None:
    """The command a message starts with ("/checkin@bot x" → "checkin"), else None."""
    message = update.message
    text = message.text if message is not None else None
    if not text or not text.startswith("/"):
        return None
    return text[1:].split(maxsplit=1)[0].split("@", 1)[0].lower() if len(text) > 1 else None


class Conversations(BaseHandler[Update, LiaisonContext, None]):
    """The one handler in front of every feature: it owns each private chat's open
    conversation. What it does not take (other commands, other buttons, anything with no
    conversation open) goes on to the features' handlers in the next group."""

    def __init__(self, flows: Iterable[Flow[Any]]) -> None:
        super().__init__(self._turn)
        self.flows: dict[str, Flow[Any]] = {}
        for flow in flows:
            if flow.name in self.flows:
                raise ValueError(f"two flows named {flow.name}")
            self.flows[flow.name] = flow

    def check_update(self, update: object) -> bool:
        if not isinstance(update, Update) or update.effective_user is None:
            return False
        chat = update.effective_chat
        if chat is None or chat.type != chat.PRIVATE:
            return False
        return update.message is not None or update.callback_query is not None

    async def _turn(self, update: Update, context: LiaisonContext) -> None:
        chat, user = update.effective_chat, update.effective_user
        assert chat is not None and user is not None
        if context.stored_conversation is not None:
            (state,) = context.stored_conversation  # read with the identity
        else:
            async with context.services.db.session() as session:
                state = await conversations.load(session, chat.id, user.id, context.platform)
        before = self._resume(state) if state is not None else None
        context.conversation = before
        handled = await self._handle(update, context, before)
        if handled or (state is not None and context.conversation is None):
            await self._keep(update, context, stored=state is not None)
        if handled:
            raise ApplicationHandlerStop

    async def _handle(
        self, update: Update, context: LiaisonContext, before: Conversation | None
    ) -> bool:
        """Start, continue or end a conversation; False if the update is not for one."""
        started = await self._start(update, context)
        if started is not None:
            conversation = context.conversation
            if conversation is not None and conversation is not before:
                conversation.state.step = started
            return True
        if before is not None:
            return await self._continue(update, context, before)
        flow = self._owner(update)
        if flow is None:
            return False
        # A button of a conversation that is over (or never was, in this chat).
        await flow.stale_button(update, context)
        return True

    def _resume(self, state: OpenConversation) -> Conversation | None:
        flow = self.flows.get(state.flow)
        if flow is None:
            return None  # a flow that no longer exists (an older version of the bot)
        try:
            draft = flow.adapter.validate_python(state.draft)
        except ValidationError:
            log.warning("the stored %s draft no longer reads; it is dropped", state.flow)
            return None
        return Conversation(flow, state, draft, (state.step, state.question_id, state.draft))

    async def _start(self, update: Update, context: LiaisonContext) -> str | None:
        """If the update starts a flow, start it (its handler ends the open one on begin)."""
        for flow in self.flows.values():
            for start in flow.starts:
                if not start.takes(update):
                    continue
                query = update.callback_query
                if query is not None and not start.toast:
                    await query.answer()
                if not flow.may_hold(context):
                    if query is not None and start.toast:
                        await query.answer()  # the start would have; nobody else will
                    await flow.refuse(update, context)
                    return END
                return await start.handler(update, context)
        return None

    async def _continue(
        self, update: Update, context: LiaisonContext, conversation: Conversation
    ) -> bool:
        """Give the update to the open conversation; False if it is not the conversation's."""
        flow, state, draft = conversation.flow, conversation.state, conversation.draft
        query = update.callback_query
        command = _command(update)
        if state.expired(context.now()):
            await _drop_buttons(update, context, state.question_id)
            context.conversation = None
            if command not in (None, "cancel") or (query is not None and not flow.owns(update)):
                return False  # /help after a long pause: the draft is simply gone
            if query is not None:
                await query.answer()
            # The flow's own values (what had been begun, e.g. which request) may name it.
            values = await _maybe(flow.values(context, draft)) if flow.values else {}
            await reply(
                update, context, f"{flow.templates}/expired", markup=REMOVE_KEYBOARD, **values
            )
            return True
        if not flow.may_hold(context):
            # No longer a member (or staff) since the conversation began.
            if query is not None:
                await query.answer()
            await _drop_buttons(update, context, state.question_id)
            context.conversation = None
            await flow.refuse(update, context)
            return True
        if command == "cancel" or (
            query is not None
            and flow.cancel_action is not None
            and query.data is not None
            and query.data in flow.cancel_action
            # The cancel button of an earlier draft does not cancel this one.
            and _asked_by(state, query.message)
        ):
            if query is not None:
                await query.answer()
            state.step = await flow.cancel(update, context, draft)
            return True
        if command is not None:
            return False  # another command (/help, /where): the conversation waits
        step = flow.steps[state.step]
        answer = next((a for a in step.answers if a.takes(update)), None)
        if query is not None:
            if answer is None or not _asked_by(state, query.message):
                if not flow.owns(update):
                    return False  # another feature's button (a notice's "received")
                await flow.stale_button(update, context)
                return True
            if not answer.toast:
                await query.answer()
        if answer is None:
            state.step = await flow.unexpected(update, context, draft)
            return True
        state.step = await answer.handler(update, context, draft)
        return True

    def _owner(self, update: Update) -> Flow[Any] | None:
        return next((flow for flow in self.flows.values() if flow.owns(update)), None)

    async def _keep(self, update: Update, context: LiaisonContext, *, stored: bool) -> None:
        """Write the turn's outcome: the conversation as it now stands, or its end."""
        chat, user = update.effective_chat, update.effective_user
        assert chat is not None and user is not None
        if context.lead is not None:
            # A start that ended another conversation and sent nothing itself: say so still.
            lead, context.lead = context.lead, None
            await send_html(context, chat.id, lead)
        conversation = context.conversation
        if conversation is not None and conversation.state.step != END:
            await _store(context, conversation)
        elif stored or conversation is not None:
            async with context.services.db.session() as session:
                await conversations.end(session, chat.id, user.id, context.platform)
