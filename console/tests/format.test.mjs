// Unit tests of the console's pure helpers (node --test console/tests/).
import { test } from "node:test";
import assert from "node:assert/strict";
import { duration, when, ago, percent, inline, stackedBars } from "../web/format.js";

test("durations, times and percentages read well", () => {
  assert.equal(duration(340.4), "340 ms");
  assert.equal(duration(1234), "1.2 s");
  assert.equal(duration(12345), "12 s");
  assert.equal(when("2026-01-31T14:05:09.123Z"), "2026-01-31 14:05:09 UTC");
  assert.equal(ago("2026-01-31T14:05:00.000Z", Date.parse("2026-01-31T14:08:30Z")), "3 min ago");
  assert.equal(ago("nonsense"), "");
  assert.equal(percent(0.5), "50 %");
  assert.equal(percent(0.034), "3.4 %");
});

test("inline markdown becomes runs, never markup", () => {
  assert.deepEqual(inline("We're open **Mon–Fri**, *CET* `x`"), [
    ["text", "We're open "], ["strong", "Mon–Fri"], ["text", ", "], ["em", "CET"], ["text", " "], ["code", "x"],
  ]);
  assert.deepEqual(inline("<img src=x onerror=alert(1)>"), [["text", "<img src=x onerror=alert(1)>"]]);
});

test("stacked bars fit the box and stack bottom-up", () => {
  const days = [{ day: "2026-01-01", open: 1, closed: 3 }, { day: "2026-01-02", open: 0, closed: 0 }];
  const { max, bars } = stackedBars(days, ["closed", "open"], 200, 100, 0);
  assert.equal(max, 4);
  assert.equal(bars.length, 2);
  assert.deepEqual(bars[0].segments.map((s) => [s.key, s.y, s.height]), [["closed", 25, 75], ["open", 0, 25]]);
  assert.equal(bars[1].x, 100);
  assert.ok(bars[1].segments.every((s) => s.height === 0));
});
