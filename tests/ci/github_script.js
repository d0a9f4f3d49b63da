// Runs the `script` of one actions/github-script step the way the action does (an async function of `github`,
// `context`, `core` and `require`), against a fake GitHub kept in a JSON file, for tests/it/ci_recipe.rs.
//
// Usage: node github_script.js SCRIPT_FILE GITHUB_STATE.json CONTEXT.json OUTPUTS.json
//
// The fake answers only the REST calls listed in `rest` below, checking their parameters; any other call, or an
// unexpected parameter, throws, so a workflow change that needs more of GitHub fails the test instead of
// passing against a stub that knows nothing. The script runs in the job's workspace (the current directory) with
// the step's environment. Outputs (core.setOutput) are written to OUTPUTS.json; the state file is rewritten with
// the comments the script made. Exit status 1 when the script threw or called core.setFailed, as the action does.
'use strict';

const fs = require('fs');

const [scriptFile, stateFile, contextFile, outputsFile] = process.argv.slice(2);
const state = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
const context = JSON.parse(fs.readFileSync(contextFile, 'utf8'));
const outputs = {};
let failed = false;

function expectParams(method, params, allowed) {
  for (const key of Object.keys(params)) {
    if (!allowed.includes(key)) throw new Error(`fake GitHub: ${method} got an unexpected parameter ${key}`);
  }
  if (params.owner !== state.owner || params.repo !== state.repo) {
    throw new Error(`fake GitHub: ${method} for ${params.owner}/${params.repo}, not ${state.owner}/${state.repo}`);
  }
}

function issueComments(issue_number) {
  const key = String(issue_number);
  if (!state.pulls.some((p) => String(p.number) === key)) {
    throw new Error(`fake GitHub: no pull request #${key}`);
  }
  state.comments[key] = state.comments[key] || [];
  return state.comments[key];
}

const bot = { login: 'github-actions[bot]', type: 'Bot' };

const rest = {
  issues: {
    async listComments(params) {
      expectParams('issues.listComments', params, ['owner', 'repo', 'issue_number', 'per_page', 'page']);
      return { data: issueComments(params.issue_number) };
    },
    async createComment(params) {
      expectParams('issues.createComment', params, ['owner', 'repo', 'issue_number', 'body']);
      const comment = { id: state.next_id++, body: params.body, user: bot };
      issueComments(params.issue_number).push(comment);
      return { data: comment };
    },
    async updateComment(params) {
      expectParams('issues.updateComment', params, ['owner', 'repo', 'comment_id', 'body']);
      for (const list of Object.values(state.comments)) {
        const comment = list.find((c) => c.id === params.comment_id);
        if (comment) {
          comment.body = params.body;
          comment.updates = (comment.updates || 0) + 1;
          return { data: comment };
        }
      }
      throw new Error(`fake GitHub: no comment ${params.comment_id}`);
    },
  },
  repos: {
    async listPullRequestsAssociatedWithCommit(params) {
      expectParams('repos.listPullRequestsAssociatedWithCommit', params, ['owner', 'repo', 'commit_sha']);
      const pulls = state.pulls.filter((p) => (p.commits || []).includes(params.commit_sha)
        || p.merge_commit_sha === params.commit_sha);
      return { data: pulls };
    },
  },
  actions: {
    async listWorkflowRuns(params) {
      expectParams('actions.listWorkflowRuns', params,
        ['owner', 'repo', 'workflow_id', 'event', 'status', 'head_sha', 'per_page']);
      const runs = state.runs.filter((r) => r.path.split('/').pop() === params.workflow_id
        && (!params.event || r.event === params.event)
        && (!params.head_sha || r.head_sha === params.head_sha)
        && (!params.status || r.conclusion === params.status));
      // Whatever order GitHub lists them in, the script must pick the newest itself: list the oldest first.
      return { data: { total_count: runs.length, workflow_runs: runs.map((r) => ({ ...r })) } };
    },
    async listWorkflowRunArtifacts(params) {
      expectParams('actions.listWorkflowRunArtifacts', params, ['owner', 'repo', 'run_id', 'name']);
      const artifacts = (state.artifacts[String(params.run_id)] || [])
        .filter((a) => !params.name || a.name === params.name);
      return { data: { total_count: artifacts.length, artifacts } };
    },
  },
};

// github.rest.X.Y for the calls above; anything else throws when touched.
function strict(object, path) {
  return new Proxy(object, {
    get(target, prop) {
      if (typeof prop === 'symbol' || prop === 'then') return target[prop];
      if (!(prop in target)) throw new Error(`fake GitHub: ${path}.${String(prop)} is not emulated`);
      const value = target[prop];
      return typeof value === 'object' ? strict(value, `${path}.${String(prop)}`) : value;
    },
  });
}

const github = strict({
  rest: rest,
  // Every fake list fits in one page.
  async paginate(method, params) {
    const { data } = await method(params);
    if (!Array.isArray(data)) throw new Error('fake GitHub: paginate of a method that does not list');
    return data;
  },
}, 'github');

const core = {
  setOutput(name, value) { outputs[name] = String(value); },
  setFailed(message) { failed = true; process.exitCode = 1; console.log(`::error::${message}`); },
  info(message) { console.log(message); },
  notice(message) { console.log(`::notice::${message}`); },
  warning(message) { console.log(`::warning::${message}`); },
  error(message) { console.log(`::error::${message}`); },
  debug() {},
};

async function main() {
  const body = fs.readFileSync(scriptFile, 'utf8');
  const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
  const fn = new AsyncFunction('require', 'github', 'context', 'core', body);
  try {
    await fn(require, github, context, core);
  } catch (e) {
    core.setFailed(`Unhandled error: ${e && e.stack ? e.stack : e}`);
  }
  fs.writeFileSync(outputsFile, JSON.stringify(outputs));
  fs.writeFileSync(stateFile, JSON.stringify(state, null, 2));
  process.exit(failed ? 1 : 0);
}

main();
