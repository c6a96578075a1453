// The two statistics the widget benchmarks print: a median, and the median of per-round
// differences between two pages loaded in the same rounds (steadier on a busy box than the
// difference of their medians).

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Median over the rounds of `times[a][i] - times[b][i]` ({page: [ms per round]}). */
export const pairedMedian = (times, a, b) => median(times[a].map((t, i) => t - times[b][i]));
