package stagecraft

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
)

// scRow is one place a secret can hide. build declares it in pipeline p,
// as construct "s" (or the pipeline itself); field is the problem's field,
// or "" when the value is no secret and must pass.
type scRow struct {
	name  string
	build func(p *Pipeline, w Workload)
	field string
}

// Fake credentials, in the shapes of real ones.
const (
	scOpenAI = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv"
	scGitHub = "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
	scHF     = "hf_AbCdEfGhIjKlMnOpQrStUvWxYz012345"
	scAWSID  = "AKIAIOSFODNN7EXAMPL3"
	scAWSKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	scJWT    = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
	// A SendGrid key: no separator after SG, 22 and 43 characters.
	scSendGrid = "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"
	scPw       = "Vq8sLm3x-Kd72Zr"
)

func scBatch(mod func(w *Workload)) func(p *Pipeline, w Workload) {
	return func(p *Pipeline, w Workload) {
		mod(&w)
		NewBatchStage(p, "s", BatchStageProps{Workload: w})
	}
}

func scEnv(name, value string) func(p *Pipeline, w Workload) {
	return scBatch(func(w *Workload) { w.Env = []EnvVar{Env(name, value)} })
}

var scRows = []scRow{
	{"literal password in env", scEnv("DB_PASSWORD", "hunter2"), "Env[0].Value"},
	{"OpenAI key in env", scEnv("LLM", scOpenAI), "Env[0].Value"},
	{"AWS access key ID in env", scEnv("AWS_ACCESS_KEY_ID", scAWSID), "Env[0].Value"},
	{"AWS secret access key in env", scEnv("AWS_SECRET_ACCESS_KEY", scAWSKey), "Env[0].Value"},
	{"URL with a password in env", scEnv("DATABASE_URL", "postgres://app:s3cret@db:5432/app"), "Env[0].Value"},
	{"JSON Web Token in env", scEnv("SESSION", scJWT), "Env[0].Value"},
	{"private key in env", scEnv("TLS", "-----BEGIN RSA PRIVATE KEY-----\nMIIE"), "Env[0].Value"},
	{"long random value under a key-like name", scEnv("HMAC_KEY", "q8Zr2LmX0vB7nK4sT1wY9pQ3"), "Env[0].Value"},
	{"GitHub token in args", scBatch(func(w *Workload) { w.Args = []string{"--repo", "acme/x", "--token=" + scGitHub} }), "Args[2]"},
	{"HF token after its flag", scBatch(func(w *Workload) { w.Args = []string{"--hf-token", scHF} }), "Args[1]"},
	{"password after its flag", scBatch(func(w *Workload) { w.Args = []string{"--password", "hunter2"} }), "Args[1]"},
	{"bearer token in the command", scBatch(func(w *Workload) {
		w.Command = []string{"sh", "-c", "curl -H 'Authorization: Bearer " + scOpenAI + "' https://api.example.com"}
	}), "Command[2]"},
	{"Slack token in args", scBatch(func(w *Workload) { w.Args = []string{"xoxb-1234567890-abcdefghij"} }), "Args[0]"},
	{"token in a pod annotation", scBatch(func(w *Workload) { w.Annotations = map[string]string{"example.com/api-token": "abc123xyz"} }), "Annotations[example.com/api-token]"},
	{"token in a stage label", scBatch(func(w *Workload) { w.Labels = map[string]string{"build": scGitHub} }), "Labels[build]"},
	{"password in an ingress annotation", func(p *Pipeline, w Workload) {
		NewProcessorStage(p, "s", ProcessorStageProps{Workload: w, Ports: []Port{{Name: "http", ContainerPort: 8080}},
			Ingress: &Ingress{Annotations: map[string]string{"nginx.ingress.kubernetes.io/auth-password": "hunter2"}}})
	}, "Ingress.Annotations[nginx.ingress.kubernetes.io/auth-password]"},
	{"password in KEDA trigger metadata", func(p *Pipeline, w Workload) {
		NewProcessorStage(p, "s", ProcessorStageProps{Workload: w, EventScaling: &EventScaling{MaxReplicas: 2,
			Triggers: []Trigger{{Type: "rabbitmq", Metadata: map[string]string{"host": "amqp://app:hunter2@rabbit:5672/", "queueName": "jobs", "mode": "QueueLength", "value": "5"}}}}})
	}, "EventScaling.Triggers[0].Metadata[host]"},
	{"password in NFS mount options", func(p *Pipeline, _ Workload) {
		NewPipelineStorage(p, "s", PipelineStorageProps{Size: "1Gi", Existing: &ExistingVolume{
			NFS: &NFSVolume{Server: "nfs.example.com", Path: "/data"}, MountOptions: []string{"nfsvers=4.1", "password=hunter2"}}})
	}, "Existing.MountOptions[1]"},
	{"secret key in CSI volume attributes", func(p *Pipeline, _ Workload) {
		NewPipelineStorage(p, "s", PipelineStorageProps{Size: "1Gi", Existing: &ExistingVolume{
			CSI: &CSIVolume{Driver: "s3.csi.aws.com", VolumeHandle: "b", VolumeAttributes: map[string]string{"secretKey": scAWSKey}}}})
	}, "Existing.CSI.VolumeAttributes[secretKey]"},
	{"token in a storage label", func(p *Pipeline, _ Workload) {
		NewPipelineStorage(p, "s", PipelineStorageProps{Size: "1Gi", Labels: map[string]string{"owner-token": "abc123"}})
	}, "Labels[owner-token]"},

	{"JDBC URL with a password", scEnv("JDBC_URL", "jdbc:mysql://db:3306/app?user=app&password=hunter2"), "Env[0].Value"},
	{"SQL Server connection string", scEnv("DB", "Server=db;Database=app;User Id=app;Password=hunter2;"), "Env[0].Value"},
	{"Azure storage connection string", scEnv("STORAGE", "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFi;EndpointSuffix=core.windows.net"), "Env[0].Value"},
	{"Azure Service Bus connection string", scEnv("BUS", "Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=app;SharedAccessKey=Zm9vYmFyYmF6cXV4MTIzNDU2"), "Env[0].Value"},
	{"mysql -p<password> in a shell string", scBatch(func(w *Workload) {
		w.Command = []string{"sh", "-c", "mysql -h db -u app -phunter2 app < /sql/init.sql"}
	}), "Command[2]"},
	{"--password= in a shell string", scBatch(func(w *Workload) { w.Command = []string{"sh", "-c", "pg_dump --password=hunter2 app > /out/app.sql"} }), "Command[2]"},
	{"--password <value> in a shell string", scBatch(func(w *Workload) { w.Command = []string{"sh", "-c", "mysqldump --password hunter2 app"} }), "Command[2]"},
	{"a password variable set in a shell string", scBatch(func(w *Workload) { w.Command = []string{"sh", "-c", "PGPASSWORD=hunter2 psql -h db app"} }), "Command[2]"},
	{"bearer token in a shell string", scBatch(func(w *Workload) {
		w.Args = []string{"-c", "curl -H 'Authorization: Bearer 9fQx2LmZ7vKp3RtY8wNb' https://api.example.com"}
	}), "Args[1]"},
	{"URL with user:password in a shell string", scBatch(func(w *Workload) { w.Args = []string{"-c", "aria2c https://bob:hunter2@files.example.com/a.bin"} }), "Args[1]"},
	{"JSON with an api key", scEnv("CONFIG", `{"endpoint": "https://api.example.com", "api_key": "abc123xyz"}`), "Env[0].Value"},
	{"base64 of user:password", scEnv("AUTH", b64("app:hunter2")), "Env[0].Value"},
	{"base64 of a private key", scEnv("TLS_B64", b64("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk=\n")), "Env[0].Value"},
	{"base64 of a token", scEnv("HUB", b64(scHF)), "Env[0].Value"},
	{"basic auth header with base64 credentials", scBatch(func(w *Workload) {
		w.Args = []string{"--header", "Authorization: Basic " + b64("bob:hunter2")}
	}), "Args[1]"},

	{"redis-cli -a <password> in the args", scBatch(func(w *Workload) { w.Command = []string{"redis-cli", "-h", "redis", "-a", "S3cr3tPass", "ping"} }), "Command[4]"},
	{"base64 of a Docker config with base64 credentials", scEnv("DOCKER_CFG", b64(`{"auths":{"r.example.com":{"auth":"`+b64("bot:hunter2")+`"}}}`)), "Env[0].Value"},

	{"SendGrid key after a plain flag", scBatch(func(w *Workload) { w.Args = []string{"--sendgrid", scSendGrid} }), "Args[1]"},
	{"SendGrid key in env", scEnv("MAILER", scSendGrid), "Env[0].Value"},
	{"ini password after a literal \\n in printf", scBatch(func(w *Workload) {
		w.Command = []string{"sh", "-c", "printf '[client]\\nuser=etl\\npassword=" + scPw + "\\n' > /tmp/my.cnf"}
	}), "Command[2]"},
	{"curl -su user:password", scBatch(func(w *Workload) { w.Args = []string{"-c", "curl -su admin:" + scPw + " https://api.example.com/"} }), "Args[1]"},
	{"curl -sku user:password", scBatch(func(w *Workload) { w.Args = []string{"-c", "curl -sku admin:" + scPw + " https://api.example.com/"} }), "Args[1]"},
	{"curl --user=user:password", scBatch(func(w *Workload) { w.Args = []string{"-c", "curl --user=admin:" + scPw + " https://api.example.com/"} }), "Args[1]"},

	// No secrets: these must pass.
	{"a versioned hash under CACHE_KEY", scEnv("CACHE_KEY", "v3-9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"), ""},
	{"object paths under *_KEY names", scBatch(func(w *Workload) {
		w.Env = []EnvVar{Env("S3_KEY", "models/a.bin"), Env("MODEL_KEY", "/data/keys/x"), Env("SHARD_KEY", "datasets/2024/shard-00017-of-00100.parquet")}
	}), ""},
	{"partition names under *_KEY names", scBatch(func(w *Workload) { w.Env = []EnvVar{Env("PARTITION_KEY", "region"), Env("SORT_KEY", "created_at")} }), ""},
	{"a digest under a key-like name", scEnv("CACHE_KEY", "sha256:3f9a1c7e5b2d8f406a9c1e3b5d7f9a2c4e6b8d0f1a3c5e7b9d2f4a6c8e0b1d3f"), ""},
	{"a UUID under a key-like name", scEnv("IDEMPOTENCY_KEY", "6f1c2b9e-3d4a-4e8b-9c7d-1a2b3c4d5e6f"), ""},
	{"issuer and audience URLs", scBatch(func(w *Workload) {
		w.Env = []EnvVar{Env("TOKEN_ISSUER", "https://issuer.example.com"), Env("TOKEN_AUDIENCE", "https://api.example.com"), Env("OIDC_ISSUER_URL", "https://issuer.example.com/realms/x")}
	}), ""},
	{"algorithm names", scBatch(func(w *Workload) {
		w.Env = []EnvVar{Env("JWT_SIGNING_ALG", "RS256"), Env("TOKEN_ALGORITHM", "HS512"), Env("SECRET_CIPHER", "AES-256-GCM"), Env("API_KEY_HASH", "SHA-256")}
	}), ""},
	{"an image reference under a key-like name", scEnv("BASE_IMAGE_KEY", "ghcr.io/acme/worker@sha256:3f9a1c7e5b2d8f406a9c1e3b5d7f9a2c4e6b8d0f1a3c5e7b9d2f4a6c8e0b1d3f"), ""},
	{"a shell string reading its password from a variable", scBatch(func(w *Workload) {
		w.Command = []string{"sh", "-c", "mysql -h db -u app -p\"$DB_PASSWORD\" app && curl -H \"Authorization: Bearer $TOKEN\" https://api.example.com"}
	}), ""},
	{"prose about tokens", scBatch(func(w *Workload) {
		w.Annotations = map[string]string{"example.com/description": "Sends a bearer token; reads the password from the mounted secret"}
	}), ""},
	{"max tokens", scEnv("MAX_TOKENS", "4096"), ""},
	{"tokenizers parallelism", scEnv("TOKENIZERS_PARALLELISM", "false"), ""},
	{"a secret by reference", scBatch(func(w *Workload) { w.Env = []EnvVar{EnvFromSecret("HF_TOKEN", "hub", "token")} }), ""},
	{"a path to a secret file", scEnv("PASSWORD_FILE", "/var/run/secrets/db/password"), ""},
	{"the name of a Secret", scEnv("API_KEY_SECRET_NAME", "llm-keys"), ""},
	{"a URL without a password", scEnv("DATABASE_URL", "postgres://app@db:5432/app"), ""},
	{"a URL whose password is a variable", scEnv("DATABASE_URL", "postgres://app:$(DB_PASSWORD)@db:5432/app"), ""},
	{"a password flag reading a variable", scBatch(func(w *Workload) { w.Args = []string{"--password", "$(DB_PASSWORD)"} }), ""},
	{"combined short flags ending in u outside curl", scBatch(func(w *Workload) {
		w.Command = []string{"sh", "-c", "docker exec -itu app:app worker true && rsync -au backup:/data /local"}
	}), ""},
	{"model names and ordinary flags", scBatch(func(w *Workload) {
		w.Args = []string{"--model", "meta-llama/Llama-3.1-8B-Instruct", "--max-tokens=2048", "--tokenizer", "bert-base-uncased"}
	}), ""},
	{"an ordinary annotation", scBatch(func(w *Workload) { w.Annotations = map[string]string{"prometheus.io/port": "8080"} }), ""},
	{"KEDA reading its password from a variable", func(p *Pipeline, w Workload) {
		NewProcessorStage(p, "s", ProcessorStageProps{Workload: w, EventScaling: &EventScaling{MaxReplicas: 2,
			Triggers: []Trigger{{Type: "rabbitmq", Metadata: map[string]string{"hostFromEnv": "RABBIT_URL", "passwordFromEnv": "RABBIT_PASSWORD", "queueName": "jobs"}}}}})
	}, ""},
	// Red team 2's values that are no secrets.
	{"red team 2: paths, digests, UUIDs, URLs and names in env", scBatch(func(w *Workload) {
		w.Env = []EnvVar{Env("CACHE_KEY", "s3://acme-models/llama-3.1-8b/shards/model-00001-of-00004.safetensors"), Env("PARTITION_KEY", "dt=2026-12-07/hour=23"),
			Env("OIDC_ISSUER_URL", "https://token.actions.githubusercontent.com"), Env("TOKEN_AUDIENCE", "sts.amazonaws.com"),
			Env("JWT_SIGNING_ALG", "ES384"), Env("PASSWORD_HASH_ALGORITHM", "argon2id"), Env("KEY_ALGORITHM", "RSA-OAEP-256"),
			Env("MODEL_DIGEST", "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"), Env("IDEMPOTENCY_KEY", "9b2e4c1a-7d3f-4e8b-a6c5-0f1e2d3c4b5a"),
			Env("API_KEY_HEADER", "X-Api-Key"), Env("TOKENIZER", "meta-llama/Llama-3.1-8B-Instruct"), Env("GIT_REMOTE", "https://ci-bot@git.example.com/acme/pipelines.git"),
			Env("GIT_COMMIT", "4f3c2b1a0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a"), Env("KMS_KEY_ARN", "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
			Env("PUBLIC_KEY_URL", "https://auth.example.com/.well-known/jwks.json"), Env("ENCRYPTION_KEY_ID", "alias/pipeline-data"),
			Env("S3_KEY", "raw/2026/12/07/part-00042-7f9a8b2c.parquet"), Env("SORT_KEY", "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"),
			Env("TLS_SECRET_NAME", "rag-tls"), Env("DSN_TEMPLATE", "postgresql://etl:$(DB_PASSWORD)@db:5432/warehouse"),
			Env("TOKEN_URL", "https://login.microsoftonline.com/0f1e2d3c-4b5a-4e8b-a6c5-9b2e4c1a7d3f/oauth2/v2.0/token"),
			Env("LABELS_B64", "eyJ0ZWFtIjoibWwiLCJ0aWVyIjoiZ29sZCJ9"), Env("SSH_PRIVATE_KEY_PATH", "/etc/ssh-key/id_ed25519")}
	}), ""},
	{"red team 2: an image by digest and a checksum annotation", scBatch(func(w *Workload) {
		w.Image = "ghcr.io/acme/serve@sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
		w.Annotations = map[string]string{"checksum/config": "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"}
	}), ""},
	{"red team 2: a password file, variables and scheme words in args", scBatch(func(w *Workload) {
		w.Args = []string{"--password-file", "/var/run/secrets/db/password", "--api-key=$(API_KEY)", "--token", "$(HF_TOKEN)", "--auth-scheme=Bearer", "--token-type", "bearer"}
	}), ""},
	{"red team 2: shell strings reading passwords from variables", scBatch(func(w *Workload) {
		w.Command = []string{"sh", "-c", "psql \"postgresql://etl:${PGPASSWORD}@db/warehouse\" && mysql -h db -u etl -p\"$MYSQL_PWD\" warehouse"}
	}), ""},
	{"a looks-like-a-secret value listed in NotSecrets", scBatch(func(w *Workload) {
		w.Env = []EnvVar{Env("EXAMPLE_API_KEY", "public-demo-key")}
		w.NotSecrets = []string{"Env[0].Value"}
	}), ""},
}

// scWhy is what the detail of a row's problem must say, by row name.
var scWhy = map[string]string{
	"SendGrid key after a plain flag":            "holds what looks like a SendGrid API key",
	"SendGrid key in env":                        "holds what looks like a SendGrid API key",
	"ini password after a literal \\n in printf": `assigns a literal to the secret-like name "password"`,
	"curl -su user:password":                     "passes a literal user:password to -u/--user",
	"curl -sku user:password":                    "passes a literal user:password to -u/--user",
	"curl --user=user:password":                  "passes a literal user:password to -u/--user",
}

// TestSecretLiteralsRefused: a literal value that looks like a credential
// is a problem that names the prop and says what to use instead; values
// that are no secrets pass.
func TestSecretLiteralsRefused(t *testing.T) {
	refused := 0
	for _, row := range scRows {
		t.Run(row.name, func(t *testing.T) {
			app := cdk8s.NewApp(nil)
			p := NewPipeline(cdk8s.NewChart(app, jsii.String("test"), nil), "p", PipelineProps{Network: testAPI})
			row.build(p, Workload{Image: muImage})
			err := Validate(app)
			if row.field == "" {
				if err != nil {
					t.Fatalf("want no problem, got %v", err)
				}
				vtExportApp(t, app)
				return
			}
			var verr *ValidationError
			if !errors.As(err, &verr) || len(verr.Problems) != 1 {
				t.Fatalf("want one problem, got %v", err)
			}
			pr := verr.Problems[0]
			if pr.Construct != "test/p/s" || pr.Field != row.field || pr.Type != tForbidden || !strings.Contains(pr.Detail, "NotSecrets") {
				t.Fatalf("want a Forbidden problem of test/p/s %s, got %v", row.field, pr)
			}
			if why := scWhy[row.name]; !strings.Contains(pr.Detail, why) {
				t.Errorf("want the detail to say %q, got %v", why, pr)
			}
			if strings.Contains(pr.String(), "hunter2") || strings.Contains(pr.String(), scOpenAI) || strings.Contains(pr.String(), scPw) || strings.Contains(pr.String(), scSendGrid) {
				t.Errorf("the problem repeats the secret: %v", pr)
			}
			t.Log(pr)
			refused++
		})
	}
	t.Logf("secrets table: %d vectors refused, %d rows without a secret passed", refused, countPassing())
}

func countPassing() int {
	n := 0
	for _, r := range scRows {
		if r.field == "" {
			n++
		}
	}
	return n
}

// TestNotSecretsMustNameAProp: an entry of NotSecrets that names no prop
// (a typo, or a prop since removed) is a problem, so that it cannot hide
// a secret later.
func TestNotSecretsMustNameAProp(t *testing.T) {
	app := cdk8s.NewApp(nil)
	p := NewPipeline(cdk8s.NewChart(app, jsii.String("test"), nil), "p", PipelineProps{
		Labels: map[string]string{"ci-token": "abc"}, NotSecrets: []string{"Labels[ci-token]"}})
	NewBatchStage(p, "s", BatchStageProps{Workload: Workload{Image: muImage, NotSecrets: []string{"Env[3].Value"}}})
	err := Validate(app)
	var verr *ValidationError
	if !errors.As(err, &verr) || len(verr.Problems) != 1 || verr.Problems[0].Field != "NotSecrets[0]" || verr.Problems[0].Construct != "test/p/s" {
		t.Fatalf("want one problem of test/p/s NotSecrets[0], got %v", err)
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestProblemsNeverRepeatASecret: a value that holds a secret and breaks
// another rule too is reported by both checks, and neither problem, nor
// any other problem of the app, repeats the secret.
func TestProblemsNeverRepeatASecret(t *testing.T) {
	// want is a part of the problem's text (String) that shows where the
	// secret was: its place, redacted.
	rows := []struct {
		name         string
		build        func(app cdk8s.App)
		secret, want string
	}{
		{"an invalid stage label under a secret-like key", func(app cdk8s.App) {
			p := NewPipeline(cdk8s.NewChart(app, jsii.String("test"), nil), "p", PipelineProps{})
			NewBatchStage(p, "s", BatchStageProps{Workload: Workload{Image: muImage, Labels: map[string]string{"ci-token": "hunter2 x"}}})
		}, "hunter2", ""},
		{"an invalid chart label holding a token", func(app cdk8s.App) {
			l := map[string]*string{"build": jsii.String(scGitHub + "!")}
			p := NewPipeline(cdk8s.NewChart(app, jsii.String("test"), &cdk8s.ChartProps{Labels: &l}), "p", PipelineProps{})
			NewBatchStage(p, "s", BatchStageProps{Workload: Workload{Image: muImage}})
		}, scGitHub, ""},
		{"an invalid pipeline label holding a URL password", func(app cdk8s.App) {
			NewPipeline(cdk8s.NewChart(app, jsii.String("test"), nil), "p", PipelineProps{Labels: map[string]string{"db": "postgres://app:s3cretpw@db/app"}})
		}, "s3cretpw", ""},
		{"an env var with a password and a control character", func(app cdk8s.App) {
			p := NewPipeline(cdk8s.NewChart(app, jsii.String("test"), nil), "p", PipelineProps{})
			NewBatchStage(p, "s", BatchStageProps{Workload: Workload{Image: muImage, Env: []EnvVar{Env("DB_PASSWORD", "hunter2\x07")}}})
		}, "hunter2", ""},
		{"a password flag whose value is also the image", func(app cdk8s.App) {
			p := NewPipeline(cdk8s.NewChart(app, jsii.String("test"), nil), "p", PipelineProps{})
			NewBatchStage(p, "s", BatchStageProps{Workload: Workload{Image: "Hunter2Pass!", Args: []string{"--password", "Hunter2Pass!"}}})
		}, "Hunter2Pass!", ""},
		// A secret in a map key, a construct id, or a value another
		// check refuses: the field path, the construct path and the
		// value are redacted as the detail is.
		{"a token as an annotation key", func(app cdk8s.App) {
			echoProcessor(app, "api", Workload{Annotations: map[string]string{"example.com/" + echoGhp: "x"}})
		}, echoGhp, "spec.template.metadata.annotations[(redacted)]: Forbidden"},
		{"a token as a label key", func(app cdk8s.App) {
			echoProcessor(app, "api", Workload{Labels: map[string]string{"example.com/" + echoGhp: "x"}})
		}, echoGhp, "Service p/api: metadata.labels[(redacted)]: Forbidden"},
		{"a token in an invalid node selector key", func(app cdk8s.App) {
			echoProcessor(app, "api", Workload{NodeSelector: map[string]string{echoGhp + "=x": "y"}})
		}, echoGhp, "NodeSelector[(redacted)=x]"},
		{"a token as a KEDA trigger metadata key", func(app cdk8s.App) {
			p := NewPipeline(cdk8s.NewChart(app, jsii.String("test"), nil), "p", PipelineProps{})
			NewProcessorStage(p, "api", ProcessorStageProps{Workload: Workload{Image: muImage}, Ports: []Port{{Name: "http", ContainerPort: 8080}},
				EventScaling: &EventScaling{MaxReplicas: 3, Triggers: []Trigger{{Type: "prometheus",
					Metadata: map[string]string{"serverAddress": "http://prom:9090", "query": "sum(x)", "threshold": "5", scHF: "1"}}}}})
		}, scHF, "metadata[(redacted)]"},
		{"a token as a stage id", func(app cdk8s.App) {
			echoProcessor(app, "ghp_z9y8x7w6v5u4t3s2r1q0p9o8n7m6l5k4j3i2", Workload{})
		}, "ghp_z9y8x7w6v5u4t3s2r1q0p9o8n7m6l5k4j3i2", "test/p/(redacted)"},
		{"a password in an invalid Ingress host", func(app cdk8s.App) {
			p := NewPipeline(cdk8s.NewChart(app, jsii.String("test"), nil), "p", PipelineProps{})
			NewProcessorStage(p, "api", ProcessorStageProps{Workload: Workload{Image: muImage}, Ports: []Port{{Name: "http", ContainerPort: 8080, ServicePort: 80}},
				Ingress: &Ingress{Host: "admin:" + scPw + "@rag.example.com"}})
		}, scPw, `Ingress.Host: Invalid value: "admin:(redacted)@rag.example.com"`},
		{"a password in an invalid gate image", func(app cdk8s.App) {
			p := NewPipeline(cdk8s.NewChart(app, jsii.String("test"), nil), "p", PipelineProps{Network: testAPI, GateImage: "bot:" + scPw + "@registry.example.com/gate:0.1.0"})
			a := NewBatchStage(p, "a", BatchStageProps{Workload: Workload{Image: muImage}})
			NewBatchStage(p, "b", BatchStageProps{Workload: Workload{Image: muImage}}).RunsAfter(a)
		}, scPw, `GateImage: Invalid value: "bot:(redacted)@registry.example.com/gate:0.1.0"`},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			app := cdk8s.NewApp(nil)
			row.build(app)
			_, err := Synthesize(app)
			var verr *ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("want problems, got %v", err)
			}
			if strings.Contains(err.Error(), row.secret) {
				t.Errorf("a problem repeats the secret: %v", err)
			}
			if !strings.Contains(err.Error(), row.want) {
				t.Errorf("want a problem with %q, got %v", row.want, err)
			}
			for _, p := range verr.Problems {
				if fe := p.FieldError(); strings.Contains(fe.Error(), row.secret) || strings.Contains(p.String(), row.secret) {
					t.Errorf("a field error repeats the secret: %v", fe)
				}
			}
			t.Log(err)
		})
	}
}

// echoGhp is a GitHub token, in the form red team 2 hid in keys.
const echoGhp = "ghp_Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2"

// echoProcessor is a ProcessorStage id of pipeline "p" in chart "test".
func echoProcessor(app cdk8s.App, id string, w Workload) {
	p := NewPipeline(cdk8s.NewChart(app, jsii.String("test"), nil), "p", PipelineProps{})
	w.Image = muImage
	NewProcessorStage(p, id, ProcessorStageProps{Workload: w, Ports: []Port{{Name: "http", ContainerPort: 8080, ServicePort: 80}}})
}

// TestPanicErrorNeverRepeatsASecret: a recovered panic names its
// construct and value without the secrets in them.
func TestPanicErrorNeverRepeatsASecret(t *testing.T) {
	e := &PanicError{Construct: "test/p/" + echoGhp, Doing: "rendering", Value: "bad URL postgres://app:" + scPw + "@db/app"}
	got := e.Error()
	if strings.Contains(got, echoGhp) || strings.Contains(got, scPw) || !strings.Contains(got, "test/p/(redacted): unexpected panic while rendering: bad URL (redacted)") {
		t.Errorf("want the construct path and the value redacted, got %q", got)
	}
}

// TestProblemRedactsEveryPosition: a secret in the construct path, the
// object, the field path, the value or the detail of a problem appears
// in none of Problem.String, ValidationError.Error and FieldError.
func TestProblemRedactsEveryPosition(t *testing.T) {
	secrets := []string{echoGhp, scHF, scPw, scSendGrid, scOpenAI}
	p := Problem{Construct: "test/p/" + echoGhp, Object: "Job p/" + scHF, Type: tForbidden, Field: "metadata.annotations[example.com/" + scSendGrid + "]",
		Value: "postgres://app:" + scPw + "@db/app", Detail: "was " + scOpenAI}
	texts := map[string]string{"Problem.String": p.String(), "ValidationError.Error": (&ValidationError{Problems: []Problem{p}}).Error(), "FieldError": p.FieldError().Error()}
	for where, text := range texts {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s repeats %q: %s", where, s, text)
			}
		}
	}
	if want := "test/p/(redacted): Job p/(redacted): metadata.annotations[example.com/(redacted)]: Forbidden: \"(redacted)\": was (redacted)"; texts["Problem.String"] != want {
		t.Errorf("want %s, got %s", want, texts["Problem.String"])
	}
}
