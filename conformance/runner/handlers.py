"""The dispatch table: each step type to the function that carries it out."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from conformance.runner import exchange_steps as ex
from conformance.runner import login_steps as ls
from conformance.runner import mailbox_steps as mb
from conformance.runner import session_steps as ss
from conformance.runner import tls_steps as tls
from conformance.scenario import steps as st

if TYPE_CHECKING:
    from conformance.runner.run import ScenarioRun

Handler = Callable[["ScenarioRun", Any], None]

HANDLERS: Final[dict[type, Handler]] = {
    st.Open: ss.open_step,
    st.Login: ls.login,
    st.Use: ss.use,
    st.Check: ex.check,
    st.Send: ex.send,
    st.Expect: ex.expect,
    st.End: ss.end,
    st.ExpectClosed: ss.expect_closed,
    st.Snapshot: mb.snapshot,
    st.Unchanged: mb.unchanged,
    st.Eventually: ls.eventually,
    st.Sleep: ss.sleep,
    st.When: ex.when,
    st.Body: ex.body,
    st.StartTls: tls.starttls,
    st.Read: ex.read,
    st.Differ: ss.timestamps_differ,
    st.Deliver: mb.deliver,
}
