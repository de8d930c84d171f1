package stagecraft

import (
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zones are checked the same way on every machine

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// ScheduledStageProps configures a ScheduledStage.
type ScheduledStageProps struct {
	Workload
	JobSettings

	// Schedule is when runs start (spec.schedule): five cron fields
	// "minute hour day-of-month month day-of-week" ("0 2 * * *") or a
	// descriptor ("@daily", "@every 6h"). Required. TZ= and CRON_TZ= are
	// problems (set TimeZone), and so are a schedule that never fires
	// ("0 2 30 2 *") and an @every interval that is not a positive whole
	// number of seconds.
	Schedule string
	// TimeZone of the schedule (spec.timeZone), an IANA name such as
	// "Europe/Berlin"; "Local" is a problem. Default: "Etc/UTC", so the
	// schedule does not depend on the zone of the cluster's controller
	// manager.
	TimeZone string
	// ConcurrencyPolicy says what happens when a run is due while the
	// previous one still runs (spec.concurrencyPolicy): Forbid skips the
	// new run, Replace stops the old one, Allow runs both. Default: Forbid,
	// a pipeline step must not overlap itself.
	ConcurrencyPolicy string
	// StartingDeadline is how late a missed run may still start
	// (spec.startingDeadlineSeconds), a whole number of seconds; a run
	// missed by more is skipped rather than started at an arbitrary time
	// (after an outage of the controller, or behind a run that Forbid held
	// back). Default: 1h.
	StartingDeadline time.Duration
	// SuccessfulJobsHistoryLimit is the number of finished Jobs kept
	// (spec.successfulJobsHistoryLimit), zero or more. Default: 3.
	SuccessfulJobsHistoryLimit *int32
	// FailedJobsHistoryLimit is the number of failed Jobs kept
	// (spec.failedJobsHistoryLimit), zero or more. Default: 3, enough to
	// debug a failure that repeats.
	FailedJobsHistoryLimit *int32
	// Suspend stops new runs (spec.suspend: true); a running Job goes on.
	// Default: false.
	Suspend bool
}

// ScheduledStage is a step that runs on a schedule: a CronJob.
type ScheduledStage struct {
	constructs.Construct
	stage
	props ScheduledStageProps // as given, for validation
	spec  ScheduledStageProps // resolved
}

// cronJobNameMax leaves room for the suffix the CronJob controller adds to
// the names of the Jobs it creates.
const cronJobNameMax = 52

// cronRunSuffixLen is the length of that suffix: a dash and the minutes
// since 1970 of the run (eight digits until the year 2160).
const cronRunSuffixLen = 1 + 8

// scheduledNameMax is the longest stage id whose CronJob fits, and, for an
// Indexed job, whose pods' host names ("<cronjob>-<run>-<index>") fit in a
// 63-character DNS label.
func scheduledNameMax(p ScheduledStageProps) int {
	max := cronJobNameMax
	if p.Indexed && p.Completions != nil && *p.Completions > 0 {
		max = min(max, validation.DNS1123LabelMaxLength-cronRunSuffixLen-1-len(strconv.Itoa(int(*p.Completions-1))))
	}
	return max
}

// NewScheduledStage creates a scheduled stage in a pipeline. Its id is the
// CronJob's name, at most 52 characters, and fewer for an Indexed job of
// more than 10 completions, whose pods are named after the run's Job and
// their completion index.
func NewScheduledStage(scope constructs.Construct, id string, props ScheduledStageProps) *ScheduledStage {
	defer lockConstructs()()
	s := &ScheduledStage{}
	cid := s.join(s, scope, id, componentScheduled, scheduledNameMax(props), props.Labels)
	s.resolve(props)
	s.create(s, scope, cid)
	return s
}

func (s *ScheduledStage) resolve(p ScheduledStageProps) {
	s.work = resolveWorkload(s.name, p.Workload, s.defaults())
	s.props = p
	s.props.Workload = s.work.given
	r := p
	r.Workload = Workload{}
	r.JobSettings = resolveJob(p.JobSettings)
	r.TimeZone = firstOf(r.TimeZone, defaultTimeZone)
	if r.StartingDeadline == 0 {
		r.StartingDeadline = defaultStartingDeadline
	}
	r.ConcurrencyPolicy = firstOf(r.ConcurrencyPolicy, string(batchv1.ForbidConcurrent))
	if r.SuccessfulJobsHistoryLimit == nil {
		r.SuccessfulJobsHistoryLimit = ptr.To[int32](defaultHistoryLimit)
	}
	if r.FailedJobsHistoryLimit == nil {
		r.FailedJobsHistoryLimit = ptr.To[int32](defaultHistoryLimit)
	}
	s.spec = r
	s.ports = metricsPorts(s.work.metrics)
	s.runsToCompletion = true
	s.maxPods = maxJobPods(r.JobSettings)
	if r.ConcurrencyPolicy == string(batchv1.AllowConcurrent) {
		s.maxPods *= 2
	}
}

func (s *ScheduledStage) validate() field.ErrorList {
	errs := validateWorkload(s.pipeline, s.work)
	errs = append(errs, validateJob(s.props.JobSettings, s.work.given.Env)...)
	errs = append(errs, validateSchedule(s.props)...)
	errs = append(errs, validateMetrics(s.work, nil, false)...)
	return append(errs, validateText(s.props)...)
}

// cronParser accepts what the CronJob controller accepts: five fields and
// descriptors such as "@daily".
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// neverFiresProbe is the time a schedule's next run is computed from to
// find schedules that never fire, such as "0 2 30 2 *" (February 30th). A
// schedule that fires at all fires within any four years.
var neverFiresProbe = time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC)

func validateSchedule(p ScheduledStageProps) field.ErrorList {
	errs := validateCron(field.NewPath("Schedule"), p.Schedule, "TimeZone")
	errs = append(errs, validateTimeZone(field.NewPath("TimeZone"), p.TimeZone)...)
	switch batchv1.ConcurrencyPolicy(p.ConcurrencyPolicy) {
	case "", batchv1.ForbidConcurrent, batchv1.AllowConcurrent, batchv1.ReplaceConcurrent:
	default:
		errs = append(errs, notSupported(field.NewPath("ConcurrencyPolicy"), p.ConcurrencyPolicy, "must be \"Forbid\", \"Allow\" or \"Replace\""))
	}
	errs = append(errs, validateSeconds(field.NewPath("StartingDeadline"), p.StartingDeadline, "must be zero (the default, 1h) or a positive whole number of seconds")...)
	return append(errs, validateNonNegative(namedCount{"SuccessfulJobsHistoryLimit", p.SuccessfulJobsHistoryLimit}, namedCount{"FailedJobsHistoryLimit", p.FailedJobsHistoryLimit})...)
}

// everyPrefix starts an interval schedule, "@every 1h30m".
const everyPrefix = "@every "

// validateEvery checks the interval of an "@every" schedule: the cron
// parser (the CronJob controller's) takes a zero, negative or sub-second
// interval for one second, and drops a fraction of a second.
func validateEvery(fld *field.Path, schedule string) field.ErrorList {
	spec := strings.TrimSpace(schedule)
	if !strings.HasPrefix(spec, everyPrefix) {
		return nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(spec[len(everyPrefix):]))
	if err == nil && d >= time.Second && d%time.Second == 0 {
		return nil
	}
	return field.ErrorList{invalid(fld, schedule, "the interval of @every must be a positive whole number of seconds (\"@every 1h\"): the CronJob controller would start a run every second instead of a zero, negative or sub-second interval, and drop a fraction of a second")}
}

// validateCron checks a cron schedule as the CronJob controller reads
// it; tz names the field that sets the time zone instead of TZ=.
func validateCron(fld *field.Path, schedule, tz string) field.ErrorList {
	switch {
	case schedule == "":
		return field.ErrorList{required(fld, "a cron schedule such as \"0 2 * * *\" or \"@daily\"")}
	case strings.Contains(schedule, "TZ="):
		return field.ErrorList{forbidden(fld, schedule, "TZ= and CRON_TZ= are not allowed in the schedule; set "+tz)}
	}
	sched, err := cronParser.Parse(schedule)
	switch {
	case err != nil:
		return field.ErrorList{invalid(fld, schedule, "not a valid cron schedule ("+err.Error()+"); use five fields \"minute hour day-of-month month day-of-week\" or a descriptor such as \"@hourly\"")}
	case sched.Next(neverFiresProbe).IsZero():
		return field.ErrorList{invalid(fld, schedule, "never fires: no date matches its day of month and month (the CronJob controller looks five years ahead)")}
	}
	return validateEvery(fld, schedule)
}

// validateTimeZone checks an IANA time zone name; "" is the controller's.
func validateTimeZone(fld *field.Path, tz string) field.ErrorList {
	if tz == "" {
		return nil
	}
	if _, err := time.LoadLocation(tz); tz == "Local" || err != nil {
		return field.ErrorList{invalid(fld, tz, "unknown time zone; use an IANA name such as \"Etc/UTC\" or \"Europe/Berlin\"")}
	}
	return nil
}

// objects returns the stage's CronJob.
func (s *ScheduledStage) objects(r *rendering) []runtime.Object {
	p := s.spec
	spec := batchv1.CronJobSpec{
		Schedule:                   p.Schedule,
		TimeZone:                   ptr.To(p.TimeZone),
		ConcurrencyPolicy:          batchv1.ConcurrencyPolicy(p.ConcurrencyPolicy),
		SuccessfulJobsHistoryLimit: p.SuccessfulJobsHistoryLimit,
		FailedJobsHistoryLimit:     p.FailedJobsHistoryLimit,
		StartingDeadlineSeconds:    ptr.To(int64(p.StartingDeadline / time.Second)),
		JobTemplate: batchv1.JobTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: jobLabels(&s.stage, p.JobSettings)},
			Spec:       jobSpec(r, &s.stage, p.JobSettings),
		},
	}
	if p.Suspend {
		spec.Suspend = ptr.To(true)
	}
	return []runtime.Object{&batchv1.CronJob{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"},
		ObjectMeta: s.meta(),
		Spec:       spec,
	}}
}

// shape draws a scheduled stage as a subroutine box, with its schedule.
func (s *ScheduledStage) shape(r *rendering) (open, close, text string) {
	return "[[", "]]", "CronJob · " + s.spec.Schedule + " " + s.spec.TimeZone + jobLabel(s.spec.JobSettings) + accelLabel(s.work.accelerators)
}
