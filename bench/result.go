package bench

// Result holds every figure of one run. JSON keys are stable: scripts and
// BENCHMARKS.md rely on them. Rates are records per second, latencies
// milliseconds, lags seconds. Every ratio is ours divided by its baseline,
// both measured in the same run; for rates above 1 is better than the
// baseline, for latencies and sizes below 1 is.
type Result struct {
	Records   int    `json:"records"` // records ingested through the engine (and raw)
	Quick     bool   `json:"quick"`
	Date      string `json:"date"` // YYYY-MM-DD of the run
	GoVersion string `json:"go_version"`
	CPUs      int    `json:"cpus"`
	// Store is the store every phase ran on: "sqlite" or "postgres".
	Store string `json:"store"`

	IngestBatchRPS         float64 `json:"ingest_batch_rps"`
	IngestBatchBaselineRPS float64 `json:"ingest_batch_baseline_rps"`
	IngestBatchRatio       float64 `json:"ingest_batch_ratio"`

	// HTTP single-record creates. Their baseline is the raw batch insert
	// rate: the most the database takes, which no per-request path can
	// beat.
	HTTPCreateC1RPS    float64 `json:"http_create_c1_rps"`
	HTTPCreateC8RPS    float64 `json:"http_create_c8_rps"`
	HTTPCreateC50RPS   float64 `json:"http_create_c50_rps"`
	HTTPCreateC1Ratio  float64 `json:"http_create_c1_ratio"`
	HTTPCreateC8Ratio  float64 `json:"http_create_c8_ratio"`
	HTTPCreateC50Ratio float64 `json:"http_create_c50_ratio"`
	HTTPCreateC1Errors int64   `json:"http_create_c1_errors"`
	HTTPCreateC8Errors int64   `json:"http_create_c8_errors"`
	// HTTPCreateC50Errors counts failed requests (transport errors and any
	// status but 201) at 50 clients.
	HTTPCreateC50Errors int64 `json:"http_create_c50_errors"`

	LookupRecords              int     `json:"lookup_records"` // records in the store during the lookups
	LookupCount                int     `json:"lookup_count"`   // lookups per kind
	LookupP50MS                float64 `json:"lookup_p50_ms"`
	LookupP99MS                float64 `json:"lookup_p99_ms"`
	LookupHTTPP50MS            float64 `json:"lookup_http_p50_ms"`
	LookupHTTPP99MS            float64 `json:"lookup_http_p99_ms"`
	LookupBaselineP50MS        float64 `json:"lookup_baseline_p50_ms"`
	LookupBaselineP99MS        float64 `json:"lookup_baseline_p99_ms"`
	LookupP50Ratio             float64 `json:"lookup_p50_ratio"`
	LookupP99Ratio             float64 `json:"lookup_p99_ratio"`
	LookupHTTPP50Ratio         float64 `json:"lookup_http_p50_ratio"`
	LookupHTTPP99Ratio         float64 `json:"lookup_http_p99_ratio"`
	SweepRecords               int     `json:"sweep_records"` // records each sweep acted on
	SweepDeleteRPS             float64 `json:"sweep_delete_rps"`
	SweepDeleteBaselineRPS     float64 `json:"sweep_delete_baseline_rps"`
	SweepDeleteRatio           float64 `json:"sweep_delete_ratio"`
	SweepAnonymizeRPS          float64 `json:"sweep_anonymize_rps"`
	SweepAnonymizeBaselineRPS  float64 `json:"sweep_anonymize_baseline_rps"`
	SweepAnonymizeRatio        float64 `json:"sweep_anonymize_ratio"`
	SweepLagP50S               float64 `json:"sweep_lag_p50_s"`
	SweepLagP99S               float64 `json:"sweep_lag_p99_s"`
	SweepLagMaxS               float64 `json:"sweep_lag_max_s"`
	SweepLagSamples            int     `json:"sweep_lag_samples"`
	SweepLagIngestRPS          float64 `json:"sweep_lag_ingest_rps"` // the rate the writer reached
	SweepLagSwept              int64   `json:"sweep_lag_swept"`      // records the sweeper deleted in the phase
	SweepLagSweepErrors        int64   `json:"sweep_lag_sweep_errors"`
	RSSMB                      float64 `json:"rss_mb"` // peak resident set (VmHWM) of the process
	DiskBytesPerRecord         float64 `json:"disk_bytes_per_record"`
	DiskBaselineBytesPerRecord float64 `json:"disk_baseline_bytes_per_record"`
	DiskRatio                  float64 `json:"disk_ratio"`
	DiskRecords                int     `json:"disk_records"` // records in the store when its size was taken
	LagDurationSeconds         float64 `json:"sweep_lag_duration_s"`
	LagTargetRateRPS           float64 `json:"sweep_lag_target_rps"`
	HTTPDurationSeconds        float64 `json:"http_duration_s"` // per concurrency level
	IngestBatchSize            int     `json:"ingest_batch_size"`
	RawBaselineTxRecords       int     `json:"raw_baseline_tx_records"`

	// Several instances on one PostgreSQL database (absent on SQLite):
	// HTTP creates by InstancesHTTPClients clients spread evenly over the
	// instances, all counted together, and the sweep lag with every
	// instance sweeping and the steady writer's batches spread over them.
	Instances                  int     `json:"instances,omitempty"`
	InstancesHTTPClients       int     `json:"instances_http_clients,omitempty"`
	InstancesHTTPCreateRPS     float64 `json:"instances_http_create_rps,omitempty"`
	InstancesHTTPCreateErrors  int64   `json:"instances_http_create_errors,omitempty"`
	InstancesHTTPCreateRatio   float64 `json:"instances_http_create_ratio,omitempty"` // to one instance at as many clients
	InstancesSweepLagP50S      float64 `json:"instances_sweep_lag_p50_s,omitempty"`
	InstancesSweepLagP99S      float64 `json:"instances_sweep_lag_p99_s,omitempty"`
	InstancesSweepLagMaxS      float64 `json:"instances_sweep_lag_max_s,omitempty"`
	InstancesSweepLagIngestRPS float64 `json:"instances_sweep_lag_ingest_rps,omitempty"`
	InstancesSweepLagSwept     int64   `json:"instances_sweep_lag_swept,omitempty"`
	InstancesSweepErrors       int64   `json:"instances_sweep_errors,omitempty"`
}

// ratio is ours/baseline, 0 when the baseline is 0 (nothing measured).
func ratio(ours, baseline float64) float64 {
	if baseline == 0 {
		return 0
	}
	return ours / baseline
}
