"""The task mix: one run of each task (``options.TASKS`` says each in a line).

Every task is a function of the process's :class:`~conformance.stress.world.World`
and a random source; it opens its own sessions and leaves none open, whether
it ends normally, on a session that got no answer, or killed by Locust at the
end of the run.  Messages are named (TOP n 0) before they are marked, so that
the ledger knows which message a QUIT removes and which a drop must keep.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable, Iterator

from conformance.stress import marked
from conformance.stress import observations as obs
from conformance.stress.client import StressClient, Unanswered
from conformance.stress.world import World
from conformance.transcript import Transcript

# How long a session of the concurrent task stays in TRANSACTION waiting for
# the other session's login to be answered (a server that queues the second
# login behind the lock answers it only after the first QUITs).
HOLD = 0.5
READS = 2  # messages a read task reads
# After a connection that failed, a pause: a server that is down is not hammered.
CONNECT_PAUSE = 0.2


@contextlib.contextmanager
def logged_in(
    world: World, rng: random.Random, disposable: bool = False
) -> Iterator[StressClient | None]:
    """A session logged in to an account (a disposable one if asked) with its view
    learned, or None (then closed)."""
    account = world.pick(rng, disposable)
    if account is None:
        yield None
        return
    client = StressClient(world, account)
    try:
        method = rng.choice(world.facts.methods[account.user])
        if not client.open():
            time.sleep(CONNECT_PAUSE)
            yield None
        elif not client.log_in(method) or not client.learn_view():
            client.quit()
            yield None
        else:
            yield client
    finally:
        client.end()


def read(world: World, rng: random.Random) -> None:
    with logged_in(world, rng) as client:
        if client is None:
            return
        live = client.view.live()
        for number in rng.sample(live, min(READS, len(live))):
            client.read(number, "RETR")
            client.read(number, "TOP", rng.randrange(0, 4))
            client.check_list(number)
            if world.facts.uidl:
                client.check_uidl(number)
        client.check_stat()
        client.quit()


def _marking(world: World, rng: random.Random, then: Callable[[StressClient], None]) -> None:
    """Log in to a disposable mailbox, name and mark one message, then ``then``."""
    with logged_in(world, rng, disposable=True) as client:
        if client is None:
            return
        live = client.view.live()
        if not live:
            client.quit()
            return
        number = rng.choice(live)
        if client.read(number) is None or not client.dele(number):
            client.quit()
            return
        then(client)


def dele_rset(world: World, rng: random.Random) -> None:
    def unmark(client: StressClient) -> None:
        client.rset()
        client.check_stat()
        client.quit()

    _marking(world, rng, unmark)


def dele_quit(world: World, rng: random.Random) -> None:
    left: list[str] = []

    def remove(client: StressClient) -> None:
        client.check_stat()
        world.knowledge.counts[client.user] = len(client.view.live())
        client.quit()
        left.append(client.user)

    _marking(world, rng, remove)
    for user in left:
        # Delivered again: the mailbox keeps about its size while the run goes on.
        if world.knowledge.counts.get(user, 0) <= world.facts.mailbox_size:
            deliver_one(world, user)


def drop(world: World, rng: random.Random) -> None:
    _marking(world, rng, lambda client: client.drop(rng.choice(("fin", "rst"))))


def concurrent(world: World, rng: random.Random) -> None:
    """Two sessions send the last line of their login to one mailbox at the same instant."""
    account = world.pick(rng)
    if account is None:
        return
    method = rng.choice(world.facts.methods[account.user])
    shared = Transcript(world.secrets, t0=world.facts.t0)
    pair = [StressClient(world, account, shared), StressClient(world, account, shared)]
    answered = [threading.Event(), threading.Event()]
    try:
        lasts = []
        for client in pair:
            last = client.prelude(method) if client.open() else None
            if last is None:
                return
            lasts.append(last)

        def one(index: int) -> None:
            client, other = pair[index], answered[1 - index]
            try:
                inside = client.finish(lasts[index])
                answered[index].set()
                if inside:
                    other.wait(HOLD)  # stay in while the other login is decided
                    client.check_stat()
                client.quit()
            except Unanswered:
                pass
            finally:
                answered[index].set()
                client.end()

        world.parallel(lambda: one(0), lambda: one(1))
    finally:
        for client in pair:
            client.end()


def deliver(world: World, rng: random.Random) -> None:
    account = world.pick(rng, disposable=True)
    if account is None:
        return
    # Bounded: a mailbox that only grows would slow every session down.
    if world.knowledge.counts.get(account.user, 0) < 2 * world.facts.mailbox_size:
        deliver_one(world, account.user)


def deliver_one(world: World, user: str) -> None:
    """One marked message into ``user``'s mailbox through the provisioner, timed."""
    if world.deliver is None:
        return
    message = marked.message(world.facts.run_id, user, world.serial())
    name = marked.identity(message.data)
    world.recorder.emit(obs.delivery(user, name, "pending", world.now()))
    started = time.monotonic()
    try:
        world.deliver(user, message)
    except Exception as exc:  # any deliverer's failure is the environment's, and reported
        ms = (time.monotonic() - started) * 1000.0
        error = world.secrets.scrub(f"{type(exc).__name__}: {exc}")
        world.recorder.request("DELIVER", ms, 0, error)
        world.recorder.emit(obs.delivery(user, name, "failed", world.now(), error))
        return
    world.recorder.request("DELIVER", (time.monotonic() - started) * 1000.0, message.size, None)
    world.recorder.emit(obs.delivery(user, name, "done", world.now()))
    world.knowledge.counts[user] = world.knowledge.counts.get(user, 0) + 1


TASKS: dict[str, Callable[[World, random.Random], None]] = {
    "read": read,
    "dele-rset": dele_rset,
    "dele-quit": dele_quit,
    "drop": drop,
    "concurrent": concurrent,
    "deliver": deliver,
}


def run_task(world: World, name: str, rng: random.Random) -> None:
    """One run of task ``name``; a session that got no answer is already recorded."""
    with contextlib.suppress(Unanswered):
        TASKS[name](world, rng)
