package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/lethe-privacy/lethe/engine"
)

// instancesEntryBase and instancesLagBase number the entries of the
// several-instance phase apart from the others (createOverHTTP adds
// httpEntryBase to its counter).
const (
	instancesEntryBase = 20_000_000
	instancesLagBase   = 90_000_000
	// instancesWarmup is the most the untimed burst before the timed
	// creates lasts.
	instancesWarmup = 500 * time.Millisecond
)

// instances measures cfg.Instances Lethe instances on one PostgreSQL
// database, as that many "lethe serve" processes behind a load balancer
// would run: each its own store (connection pool), engine and HTTP
// server, one master key. First single-record creates by the largest
// client count of the HTTP phase, spread evenly over the instances, all
// counted together and set beside one instance at as many clients; then
// the sweep-lag phase again with every instance sweeping (their leases
// let one batch run at a time) and the writer's batches spread over them.
func (r *runner) instances(ctx context.Context) (err error) {
	n := r.cfg.Instances
	envs := []*Env{r.env}
	targets := []*httpTarget{r.http}
	defer func() {
		for i := len(envs) - 1; i > 0; i-- {
			err = errors.Join(err, targets[i].close(), envs[i].Close())
		}
	}()
	for len(envs) < n {
		e, err := r.env.Instance(ctx)
		if err != nil {
			return err
		}
		t, err := serveHTTP(e, r.http.token)
		if err != nil {
			e.Close()
			return err
		}
		envs, targets = append(envs, e), append(targets, t)
	}

	clients := slices.Max(r.cfg.HTTPClients)
	r.progress(fmt.Sprintf("%d instances: create over HTTP", n))
	var next atomic.Int64
	next.Store(instancesEntryBase)
	// The new instances start cold (no connections, no tenant keys
	// unwrapped, no statements cached); a short untimed burst warms them,
	// as the first instance was warmed by the phases before.
	createOverHTTP(ctx, targets, clients, min(r.cfg.HTTPDuration/4, instancesWarmup), &next)
	l := createOverHTTP(ctx, targets, clients, r.cfg.HTTPDuration, &next)
	if err := ctx.Err(); err != nil {
		return err
	}
	if l.ok == 0 {
		return fmt.Errorf("%w: no record created over HTTP on %d instances (%d errors)", errMismatch, n, l.errors)
	}
	r.res.Instances, r.res.InstancesHTTPClients = n, clients
	r.res.InstancesHTTPCreateRPS, r.res.InstancesHTTPCreateErrors = rate(int(l.ok), l.took), l.errors
	if clients == 50 {
		r.res.InstancesHTTPCreateRatio = ratio(r.res.InstancesHTTPCreateRPS, r.res.HTTPCreateC50RPS)
	}

	r.progress(fmt.Sprintf("%d instances: sweep lag", n))
	engines := make([]*engine.Engine, len(envs))
	for i, e := range envs {
		engines[i] = e.Engine
	}
	out, err := r.lagRun(ctx, engines, instancesLagBase)
	if err != nil {
		return err
	}
	r.res.InstancesSweepLagP50S = percentile(out.samples, 50).Seconds()
	r.res.InstancesSweepLagP99S = percentile(out.samples, 99).Seconds()
	r.res.InstancesSweepLagMaxS = percentile(out.samples, 100).Seconds()
	r.res.InstancesSweepLagIngestRPS = out.ingestRPS
	r.res.InstancesSweepLagSwept = out.swept
	r.res.InstancesSweepErrors = out.sweepErrors
	return nil
}
