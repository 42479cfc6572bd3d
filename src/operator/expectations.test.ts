import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FakeClock } from "../lib/fake-clock.ts";
import { Expectations } from "./expectations.ts";

const POD = Expectations.key("pods", "team-a", "scaler");

describe("expectations: creates the cache has yet to show", () => {
  test("a create is pending until the informer reports the object", () => {
    const e = new Expectations(new FakeClock(), 30_000);
    assert.equal(e.pending(POD), false);
    e.created(POD);
    assert.equal(e.pending(POD), true);
    e.observed(POD);
    assert.equal(e.pending(POD), false);
    assert.equal(e.size, 0);
  });

  test("keys differ by resource, namespace and name", () => {
    const e = new Expectations(new FakeClock(), 30_000);
    e.created(POD);
    assert.equal(e.pending(Expectations.key("serviceaccounts", "team-a", "scaler")), false);
    assert.equal(e.pending(Expectations.key("pods", "team-b", "scaler")), false);
    assert.equal(e.pending(Expectations.key("pods", "team-a", "other")), false);
  });

  test("without the watch event, a create is trusted only for the TTL, then forgotten", () => {
    const clock = new FakeClock();
    const e = new Expectations(clock, 30_000);
    e.created(POD);
    clock.advance(29_999);
    assert.equal(e.pending(POD), true);
    clock.advance(1);
    assert.equal(e.pending(POD), false);
    assert.equal(e.size, 0);
  });

  test("an event for an object never created here changes nothing", () => {
    const e = new Expectations(new FakeClock(), 30_000);
    e.observed(POD);
    assert.equal(e.pending(POD), false);
  });
});
