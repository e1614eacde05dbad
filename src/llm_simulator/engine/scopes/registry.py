"""The test scopes of one worker: created on first use, expired when idle, bounded in number.

Precedence for a request carrying a test id (``core/test_scope.py``):

- chaos: the control header decides alone, as for any request; else the scope's one-shot
  faults, then the global one-shot faults, then the scope's rules and scenarios (when they
  disturb the request they decide), then the global chaos state;
- fixtures: the scope's fixtures and scenarios, then the global ones; with neither
  matching, strict mode (the scope's switch, else ``fixtures.strict``) makes it an error.

A request without a test id never reaches this module (one ``test_id is None`` test).

Scopes live in an LRU map ordered by last use (a request or an admin call naming it): one idle for
``scopes.idle_ttl_s`` is dropped when next looked up or when room is needed, and past
``scopes.max_scopes`` the least recently used is evicted. With a shared state backend a
scope's settings are a document in the fleet's ``BlobStore`` (expiring with the same idle
time to live, extended while the scope is used): each scoped request reads it (one GET) and
applies it when it changed, so an admin write through any replica is seen by the next
request on every replica, and a scope cleared anywhere is cleared everywhere. Its counters
are added up fleet-wide too (the backend's ``CounterStore``: each replica adds what it
counted since its last add, in a background task after each finished request; an add, and
a read of a scope in use, extend their time to live), and ``GET /admin/scopes`` lists the
fleet's scopes that have counted a request, beside this worker's own (every counter read
in one round trip, the others' documents in one more).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict
from typing import Any

import orjson

from llm_simulator.config.chaos import ChaosConfig, ChaosRule
from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.core.errors import invalid
from llm_simulator.core.test_scope import TEST_ID_HEADER, is_valid_test_id
from llm_simulator.engine.chaos.controller import ChaosController, RequestFacts, Resolver, Verdict
from llm_simulator.engine.chaos.oneshot import OneShot
from llm_simulator.engine.scopes.scope import ScopeCounters, ScopedSteps, TestScope
from llm_simulator.engine.script.registry import Script
from llm_simulator.infra.clock import Clock
from llm_simulator.infra.rng import derive_seed
from llm_simulator.infra.state.backends import StateStores

log = logging.getLogger("llm_simulator.engine")


class ScopeRegistry:
    """Every test scope this worker knows, and the scoped decisions (see the module doc)."""

    def __init__(
        self, config: SimulatorConfig, chaos: ChaosController, clock: Clock, stores: StateStores, resolve: Resolver
    ) -> None:
        self.config = config.scopes
        self._session_header = config.fixtures.session_header
        self.strict_default = config.fixtures.strict
        self._run_seed = config.chaos.seed if config.chaos.seed is not None else config.seed
        self._chaos = chaos
        self._clock = clock
        self._resolve = resolve
        self._stores = stores
        self._shared = stores.shared
        # One-shot budgets: the fleet's counters (memory: this process's).
        self._claims = stores.steps
        self._scopes: OrderedDict[str, TestScope] = OrderedDict()
        # The fleet's counters (None in memory), the scopes with counts not yet added to
        # them, and the task adding them.
        self._counters = stores.scope_counters
        self._dirty: dict[str, TestScope] = {}
        self._flushing: asyncio.Task[None] | None = None
        # One add to (or drop of) the fleet's counters at a time: a drop waits for an add of
        # the scope's counts already in flight, which would otherwise land after it.
        self._adding = asyncio.Lock()
        self.evicted = 0
        self.expired = 0

    # -- lookup, creation, expiry ---------------------------------------------------------------

    @staticmethod
    def check_id(test_id: str) -> None:
        """A 400 naming the header when ``test_id`` is malformed."""
        if not is_valid_test_id(test_id):
            raise invalid(
                f"Invalid {TEST_ID_HEADER} (or simulator_test_id): expected 1-200 characters of "
                f"letters, digits and ._:/[]=+@-, got {test_id[:60]!r}.",
                param=TEST_ID_HEADER,
                code="invalid_test_id",
            )

    def _local(self, test_id: str, now: float) -> TestScope | None:
        """The scope kept here, unless it has been idle past its time to live (then dropped)."""
        scope = self._scopes.get(test_id)
        if scope is not None and now - scope.used > self.config.idle_ttl_s:
            del self._scopes[test_id]
            self.expired += 1
            return None
        return scope

    def _create(self, test_id: str, now: float) -> TestScope:
        """A fresh, empty scope, kept (room made first: expired scopes, then the least recently used)."""
        ttl = self.config.idle_ttl_s
        while self._scopes:
            oldest = next(iter(self._scopes.values()))
            if now - oldest.used > ttl:
                self._scopes.popitem(last=False)
                self.expired += 1
            elif len(self._scopes) >= self.config.max_scopes:
                self._scopes.popitem(last=False)
                self.evicted += 1
            else:
                break
        scope = self._build(test_id, now)
        self._scopes[test_id] = scope
        return scope

    def _build(self, test_id: str, now: float) -> TestScope:
        """A fresh, empty scope (not kept: ``_create`` keeps it)."""
        seed = derive_seed("scope", self._run_seed, test_id) if self._run_seed is not None else None
        chaos = ChaosController(
            ChaosConfig(enabled=True, seed=seed), self._clock, None, self._resolve, default_mix=False
        )
        script = Script(self._clock, session_header=self._session_header, max_sessions=self.config.max_sessions)
        scope = TestScope(test_id, uuid.uuid4().hex, chaos, script, now)
        if self._shared:
            script.steps = ScopedSteps(self._stores.steps, scope)

            async def publish() -> None:
                await self.publish(scope)

            # Admin writes through the ordinary chaos and fixture routes publish the scope.
            chaos.on_change = publish
            scope.fixtures.on_change = publish
        return scope

    async def open(self, test_id: str) -> TestScope:
        """The scope ``test_id`` names, created if new, brought up to date with the fleet, marked used.

        Raises the 400 of ``check_id`` for a malformed id.
        """
        self.check_id(test_id)
        now = self._clock.now()
        scope = self._local(test_id, now)
        if self._shared:
            scope = await self._follow(test_id, scope, now)
        if scope is None:
            scope = self._create(test_id, now)
        scope.used = now
        self._scopes.move_to_end(test_id)
        return scope

    async def _follow(self, test_id: str, scope: TestScope | None, now: float) -> TestScope | None:
        """Apply the fleet's settings document of the scope when it differs from what is applied here."""
        blobs = self._stores.scopes
        raw = await blobs.get(test_id)
        if raw is None:
            if scope is not None and scope.raw is not None:
                # Shared once, gone now: cleared (or expired) fleet-wide; start afresh.
                del self._scopes[test_id]
                return None
            return scope
        if scope is None:
            scope = self._create(test_id, now)
        if raw != scope.raw:
            scope.restore(orjson.loads(raw))
            scope.raw = raw
            scope.refreshed = now
        elif now - scope.refreshed > self.config.idle_ttl_s / 2:
            # Still in use: keep the fleet's copy alive (one write per half time to live).
            await blobs.put(test_id, raw, self.config.idle_ttl_s)
            scope.refreshed = now
        return scope

    async def exists(self, test_id: str) -> bool:
        """Whether the scope is live here, its settings are in the fleet's store or another replica counted it."""
        if self._local(test_id, self._clock.now()) is not None:
            return True
        if self._shared and await self._stores.scopes.get(test_id) is not None:
            return True
        # One only other replicas have served (never written): known by its fleet counters,
        # as ``GET /admin/scopes`` lists it.
        return self._counters is not None and bool(await self._counters.read(test_id))

    async def publish(self, scope: TestScope) -> None:
        """Share the scope's settings with the fleet (nothing to do in memory)."""
        if not self._shared:
            return
        raw = orjson.dumps(scope.snapshot())
        await self._stores.scopes.put(scope.id, raw, self.config.idle_ttl_s)
        scope.raw = raw
        scope.refreshed = self._clock.now()

    async def drop(self, test_id: str) -> bool:
        """Clear a scope here and fleet-wide; False when no replica had it."""
        self.check_id(test_id)
        known = self._local(test_id, self._clock.now()) is not None
        for kept in (self._scopes.pop(test_id, None), self._dirty.pop(test_id, None)):
            if kept is not None:
                kept.counters.discard_unflushed()  # counted before the drop: cleared with it
        if self._shared:
            known = await self._stores.scopes.delete(test_id) or known
        if self._counters is not None:
            async with self._adding:  # after an add of the scope's counts already in flight
                known = await self._counters.delete(test_id) or known
        return known

    def clear(self) -> int:
        """Forget every scope this worker keeps (the fleet's documents expire on their own)."""
        count = len(self._scopes)
        self._scopes.clear()
        return count

    def finished(self, test_id: str, status: int) -> None:
        """Count a finished request of the scope by status (creating the scope, as any request does)."""
        if not is_valid_test_id(test_id):
            return
        now = self._clock.now()
        scope = self._local(test_id, now) or self._create(test_id, now)
        scope.used = now
        self._scopes.move_to_end(test_id)
        counters = scope.counters
        counters.requests += 1
        counters.by_status[str(status)] += 1
        if self._counters is not None:
            # Everything the request counted (its fixture hit, strict miss, fault too) goes
            # to the fleet's counters in the background, coalesced with other requests'.
            self._dirty[test_id] = scope
            if self._flushing is None or self._flushing.done():
                self._flushing = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        """Add every dirty scope's new counts to the fleet's counters (one script per scope)."""
        while self._dirty:
            dirty, self._dirty = self._dirty, {}
            for scope in dirty.values():
                await self._add(scope)

    async def _add(self, scope: TestScope) -> None:
        """Add what ``scope`` counted since its last add; kept for the next add when the backend failed."""
        store = self._counters
        assert store is not None
        async with self._adding:
            deltas = scope.counters.unflushed()
            if not deltas:
                return
            try:
                added = await store.add(scope.id, deltas, self.config.idle_ttl_s)
            except Exception:
                # An error the backend's guard does not read as "unreachable" (a read-only
                # replica, Redis out of memory): the counts stay pending like an unreachable
                # backend's, and the other scopes of the pass are still added.
                log.warning("could not add scope %r's counters to the fleet's", scope.id, exc_info=True)
                added = False
            if not added:
                scope.counters.unflushed_again(deltas)

    def start(self) -> None:
        """Nothing to start: counts are added in the background as requests finish."""

    async def aclose(self) -> None:
        """Add the counts still pending to the fleet's counters: the worker's last add, at shutdown.

        Runs after the drain (no request counts after it) and before the state backend closes.
        """
        if self._counters is None:
            return
        if self._flushing is not None and not self._flushing.done():
            await self._flushing
        # The dirty ones (an evicted scope may still be among them) and every kept scope a
        # failed add left counts pending for; ``_add`` does nothing for a scope with none.
        pending = [*self._dirty.values(), *self._scopes.values()]
        self._dirty.clear()
        for scope in pending:
            await self._add(scope)

    async def counters(self, scope: TestScope) -> ScopeCounters:
        """The scope's counters: the fleet's sum with a shared backend (this worker's if unreachable).

        ``scope`` was just opened (kept alive), so the read extends the fleet's counters' time
        to live in the same round trip: otherwise a scope kept alive by admin reads alone
        would lose its fleet counts ``idle_ttl_s`` after its last request.
        """
        store = self._counters
        if store is None:
            return scope.counters
        await self._add(scope)  # this worker's counts first (after any add of them in flight)
        fields = await store.read(scope.id, self.config.idle_ttl_s)
        return scope.counters if fields is None else ScopeCounters.from_fields(fields)

    # -- decisions ----------------------------------------------------------------------------

    async def decide(
        self, scope: TestScope | None, facts: RequestFacts, forced: tuple[ChaosRule, ...] | None
    ) -> Verdict:
        """The chaos verdict for a scoped request, or an unscoped one while global one-shots are armed."""
        chaos = self._chaos
        if forced is not None:
            verdict = chaos.decide(facts, forced)
            return scope.fired(verdict) if scope is not None else verdict
        for owner in (scope.chaos, chaos) if scope is not None else (chaos,):
            if owner.one_shots.armed:
                rule = await owner.one_shots.take(owner.matcher(facts), self._claims)
                if rule is not None:
                    verdict = owner.decide(facts, (rule,))
                    return scope.fired(verdict) if scope is not None else verdict
        if scope is None:
            return chaos.decide(facts)
        verdict = scope.chaos.decide(facts)
        if not verdict.disturbs:
            verdict = chaos.decide(facts)
        return scope.fired(verdict)

    def strict(self, scope: TestScope | None) -> bool:
        """Whether strict mode is on for a request of ``scope`` (its own switch, else ``fixtures.strict``)."""
        if scope is not None and scope.strict is not None:
            return scope.strict
        return self.strict_default

    # -- one-shot faults ----------------------------------------------------------------------

    def arm(self, scope: TestScope | None, rule: ChaosRule, count: int) -> OneShot:
        """Arm a one-shot fault in ``scope`` (None: globally); a 400 past the scope's bound."""
        owner = scope.chaos if scope is not None else self._chaos
        if len(owner.one_shots.faults) >= self.config.max_faults:
            raise invalid(
                f"At most {self.config.max_faults} one-shot faults may be armed at once (scopes.max_faults).",
                code="too_many_faults",
            )
        return owner.one_shots.add(rule, count, self._clock.wall())

    async def faults_view(self, scope: TestScope | None) -> list[dict[str, Any]]:
        """The armed one-shot faults of ``scope`` (None: the global ones) with their uses."""
        owner = scope.chaos if scope is not None else self._chaos
        return await owner.one_shots.view(self._claims)

    # -- admin views --------------------------------------------------------------------------

    async def list_view(self) -> dict[str, Any]:
        """The live scopes, least recently used first, and the bounds.

        In memory, this worker's. With a shared backend, each with the fleet's request count,
        followed by the scopes that only other replicas have served (those that counted a
        request), ``here: false``, their settings from the fleet's document and no age.
        """
        now = self._clock.now()
        ttl = self.config.idle_ttl_s
        for test_id in [k for k, s in self._scopes.items() if now - s.used > ttl]:
            del self._scopes[test_id]
            self.expired += 1
        kept = list(self._scopes.values())
        scopes = [scope.summary(now, ttl) for scope in kept]
        store = self._counters
        if store is not None:
            for scope in kept:
                await self._add(scope)  # this worker's counts first (no round trip when none are pending)
            others = sorted(set(await store.keys()) - set(self._scopes))
            # Every counter read in one round trip (up to max_scopes kept here, plus the others).
            # A list does not keep scopes alive: no time to live is extended.
            fields = await store.read_many([scope.id for scope in kept] + others)
            for index, (scope, summary) in enumerate(zip(kept, scopes, strict=True)):
                counted = scope.counters if fields is None else ScopeCounters.from_fields(fields[index])
                summary["requests"] = counted.requests
                summary["here"] = True
            if fields is not None:  # unreachable: this worker's own scopes only
                scopes += await self._elsewhere(now, others, fields[len(kept) :])
        return {
            "idle_ttl_s": ttl,
            "max_scopes": self.config.max_scopes,
            "evicted": self.evicted,
            "expired": self.expired,
            "scopes": scopes,
        }

    async def _elsewhere(self, now: float, test_ids: list[str], counted: list[dict[str, int]]) -> list[dict[str, Any]]:
        """Summaries of the scopes other replicas counted requests for (``counted``) and this one does not keep."""
        found = [(test_id, fields) for test_id, fields in zip(test_ids, counted, strict=True) if fields]
        # Their settings documents in one round trip too.
        documents = await self._stores.scopes.get_many([test_id for test_id, _ in found])
        out = []
        for (test_id, fields), raw in zip(found, documents, strict=True):
            scope = self._build(test_id, now)
            if raw is not None:
                scope.restore(orjson.loads(raw))
            summary = scope.summary(now, self.config.idle_ttl_s)
            summary.update(age_s=None, idle_s=None, expires_in_s=None, requests=fields.get("requests", 0), here=False)
            out.append(summary)
        return out

    async def view(self, scope: TestScope) -> dict[str, Any]:
        """Everything about one scope: settings, chaos, fixtures, sessions, one-shot faults, counters."""
        now = self._clock.now()
        return {
            **scope.summary(now, self.config.idle_ttl_s),
            "strict_in_force": self.strict(scope),
            "counters": (await self.counters(scope)).view(),
            "chaos": scope.chaos.status(),
            "fixtures": scope.script.fixtures_view(),
            "sessions": scope.script.sessions_view(),
            "one_shots": await self.faults_view(scope),
        }
