package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// lookupWarmup lookups of each kind run before the timed ones, so that
// the first queries' statement preparation and cold pages do not count.
const lookupWarmup = 50

// lookup times cfg.Lookups subject lookups by e-mail of ingested entries,
// one at a time: through Engine.FindSubject, through GET /subjects, and as
// a raw indexed SELECT by the identifier. Every lookup must find exactly
// one record. The same pseudo-random entries are looked up each way.
func (r *runner) lookup(ctx context.Context) error {
	r.res.LookupRecords = r.cfg.Records + r.httpCreated
	pick := func() func() int {
		rng := rand.New(rand.NewPCG(1, 2))
		return func() int { return rng.IntN(r.cfg.Records) }
	}
	kinds := []struct {
		phase string
		find  func(i int) (int, error)
		p50   *float64
		p99   *float64
	}{
		{"lookup: engine", func(i int) (int, error) {
			docs, err := r.env.Engine.FindSubject(ctx, ChatTenant, map[string]string{"email": EntryEmail(i)})
			return len(docs), err
		}, &r.res.LookupP50MS, &r.res.LookupP99MS},
		{"lookup: HTTP", func(i int) (int, error) {
			return r.http.findSubject(ctx, EntryEmail(i))
		}, &r.res.LookupHTTPP50MS, &r.res.LookupHTTPP99MS},
		{"lookup: raw baseline", func(i int) (int, error) {
			return r.raw.Lookup(ctx, ChatTenant, []byte(EntryEmail(i)))
		}, &r.res.LookupBaselineP50MS, &r.res.LookupBaselineP99MS},
	}
	for _, k := range kinds {
		r.progress(k.phase)
		next := pick()
		times := make([]time.Duration, 0, r.cfg.Lookups)
		for n := 0; n < lookupWarmup+r.cfg.Lookups; n++ {
			i := next()
			start := time.Now()
			found, err := k.find(i)
			took := time.Since(start)
			if err != nil {
				return fmt.Errorf("bench: %s: %w", k.phase, err)
			}
			if found != 1 {
				return fmt.Errorf("%w: %s: entry %d: found %d records, want 1", errMismatch, k.phase, i, found)
			}
			if n >= lookupWarmup {
				times = append(times, took)
			}
		}
		*k.p50 = millis(percentile(times, 50))
		*k.p99 = millis(percentile(times, 99))
	}
	res := r.res
	res.LookupP50Ratio = ratio(res.LookupP50MS, res.LookupBaselineP50MS)
	res.LookupP99Ratio = ratio(res.LookupP99MS, res.LookupBaselineP99MS)
	res.LookupHTTPP50Ratio = ratio(res.LookupHTTPP50MS, res.LookupBaselineP50MS)
	res.LookupHTTPP99Ratio = ratio(res.LookupHTTPP99MS, res.LookupBaselineP99MS)
	return nil
}
