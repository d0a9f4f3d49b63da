//! Loads `*.hcl` files into `Desired`, checking every rule knowable without AWS and locating each mistake.

mod backend;
mod diagnostic;
mod error;
mod eval;
pub mod fmt;
mod moved;
mod secrets;
mod source;
mod validate;
mod variables;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use hcl_edit::expr::{Expression, TraversalOperator};
use hcl_edit::repr::Span;
use hcl_edit::structure::{Attribute, Block, Body, Structure};

pub use backend::{backend_in, BackendBlock};
pub use diagnostic::{Diagnostic, Diagnostics};
pub use error::ConfigError;
pub use eval::Inputs;
pub use source::SourceFile;

use crate::model::{Desired, Location, MovedBlock, Scope, VifId, VifSpec};
use eval::Evaluator;

/// A `provider "aws"` block: the default one (`alias` is `None`) or an aliased one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provider {
    pub alias: Option<String>,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub location: Location,
}

/// A loaded config before regions left to the AWS config chain are resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub providers: Vec<Provider>,
    /// Declared VIFs, sorted by id, with the alias of the provider they use.
    vifs: Vec<(VifSpec, Option<String>)>,
    /// `moved` blocks, in file order.
    moved: Vec<MovedBlock>,
    /// Where the state lives, if the config says (`backend "s3"`).
    pub backend: Option<BackendBlock>,
}

impl Config {
    fn provider(&self, alias: Option<&str>) -> Option<&Provider> {
        self.providers.iter().find(|p| p.alias.as_deref() == alias)
    }

    /// Whether some VIF's provider names no region, so the caller must supply one.
    pub fn needs_fallback_region(&self) -> bool {
        self.vifs.iter().any(|(_, alias)| {
            self.provider(alias.as_deref())
                .and_then(|p| p.region.as_ref())
                .is_none()
        })
    }

    /// The desired state, each VIF placed in its provider's region and profile (or `fallback_region`).
    pub fn desired(&self, fallback_region: &str) -> Desired {
        let vifs = self
            .vifs
            .iter()
            .map(|(vif, alias)| {
                let provider = self.provider(alias.as_deref());
                let mut vif = vif.clone();
                vif.scope = Scope {
                    region: provider
                        .and_then(|p| p.region.clone())
                        .unwrap_or_else(|| fallback_region.to_string()),
                    profile: provider.and_then(|p| p.profile.clone()),
                };
                vif
            })
            .collect();
        Desired {
            vifs,
            moved: self.moved.clone(),
        }
    }

    /// The named AWS profiles the config uses.
    pub fn profiles(&self) -> BTreeSet<String> {
        self.providers
            .iter()
            .filter_map(|p| p.profile.clone())
            .collect()
    }
}

/// The `*.hcl` files directly in `dir`, sorted. A `*.hcl` entry that is a dangling link, a directory or anything
/// but a regular file is an error, never silently absent (its peers would be planned for destruction).
pub fn config_files(dir: &Path) -> Result<Vec<PathBuf>, ConfigError> {
    let unreadable = |source| ConfigError::ReadDir {
        dir: dir.to_path_buf(),
        source,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let path = entry.map_err(unreadable)?.path();
        if path.extension().is_none_or(|x| x != "hcl") {
            continue;
        }
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => paths.push(path),
            Ok(_) => return Err(ConfigError::NotAFile(path)),
            Err(cause) if std::fs::symlink_metadata(&path).is_ok() => {
                return Err(ConfigError::DanglingLink { path, cause })
            }
            Err(source) => return Err(ConfigError::ReadFile { path, source }),
        }
    }
    paths.sort();
    if paths.is_empty() {
        return Err(ConfigError::NoFiles(dir.to_path_buf()));
    }
    Ok(paths)
}

/// Reads every `*.hcl` file directly in `dir` (sorted, non-recursive) and loads them as one config.
pub fn load_dir(dir: &Path, inputs: &Inputs) -> Result<Config, ConfigError> {
    let mut files = Vec::new();
    for path in config_files(dir)? {
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(source) => return Err(ConfigError::ReadFile { path, source }),
        };
        let display = path.display().to_string();
        match String::from_utf8(bytes) {
            Ok(text) => files.push(SourceFile::new(display, text)),
            Err(_) => {
                return Err(Diagnostics::single(Diagnostic::new(
                    Location {
                        file: display,
                        line: 1,
                        column: 1,
                    },
                    "encoding",
                    "config files must be UTF-8",
                ))
                .into())
            }
        }
    }
    Ok(load_sources(&files, inputs)?)
}

/// Makes the secret literals the files hold (see `secrets`) known to the redaction point, before any diagnostic
/// could quote them.
pub fn register_secret_literals(files: &[SourceFile]) {
    let sensitive: BTreeSet<String> = files
        .iter()
        .flat_map(|f| secrets::sensitive_variables(&f.text))
        .collect();
    for found in per_file(files, |src| secrets::literals(&src.text, &sensitive)) {
        for secret in found {
            crate::redact::register(&secret);
        }
    }
}

/// Configs this large are read on all cores, a share of the files each: a 10,000-VIF config is megabytes of HCL.
const PARALLEL_BYTES: usize = 256 * 1024;

/// `work` applied to every file, in order; on several threads when the config is large and has several files.
fn per_file<T: Send>(files: &[SourceFile], work: impl Fn(&SourceFile) -> T + Sync) -> Vec<T> {
    let bytes: usize = files.iter().map(|f| f.text.len()).sum();
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(files.len());
    if threads < 2 || bytes < PARALLEL_BYTES {
        return files.iter().map(work).collect();
    }
    let share = files.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let work = &work;
        let running: Vec<_> = files
            .chunks(share)
            .map(|chunk| scope.spawn(move || chunk.iter().map(work).collect::<Vec<T>>()))
            .collect();
        running
            .into_iter()
            .flat_map(|thread| {
                thread
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// Loads already-read sources. Pure apart from `file()` reads: the environment comes from `inputs`.
pub fn load_sources(files: &[SourceFile], inputs: &Inputs) -> Result<Config, Diagnostics> {
    register_secret_literals(files);
    let mut diags = Vec::new();
    let mut bodies = Vec::new();
    let parsed = per_file(files, |src| hcl_edit::parser::parse_body(&src.text));
    for (src, parsed) in files.iter().zip(parsed) {
        match parsed {
            Ok(body) => bodies.push(Some(body)),
            Err(e) => {
                diags.push(Diagnostic::syntax(src, &e));
                bodies.push(None);
            }
        }
    }
    if !diags.is_empty() {
        // Later checks would only add noise about a config that cannot be read.
        return Err(Diagnostics {
            items: diags,
            sources: files
                .iter()
                .map(|f| (f.display_path.clone(), f.text.clone()))
                .collect(),
        });
    }
    // Variables first: every file may use any file's variables.
    let mut ev = Evaluator::new(inputs);
    let mut declared = Vec::new();
    let mut seen: BTreeMap<String, Location> = BTreeMap::new();
    for (i, (src, body)) in files.iter().zip(&bodies).enumerate() {
        for block in body
            .iter()
            .flat_map(|b| b.blocks())
            .filter(|b| b.ident.as_str() == "variable")
        {
            if let Some(v) = variables::declare(src, i, block, &ev, &mut diags) {
                if let Some(first) = seen.get(&v.name) {
                    diags.push(
                        Diagnostic::at(
                            src,
                            block.span(),
                            "duplicate-variable",
                            format!("variable `{}` is declared twice", v.name),
                        )
                        .with_hint(format!("first declared at {first}")),
                    );
                    continue;
                }
                seen.insert(v.name.clone(), v.location.clone());
                declared.push(v);
            }
        }
    }
    let values = variables::resolve(&declared, files, inputs, &mut diags);
    for v in &declared {
        match values.get(&v.name) {
            Some((value, sensitive)) => ev.declare(&v.name, value.clone(), *sensitive),
            None => ev.declare_failed(&v.name),
        }
    }

    let mut loader = Loader {
        ev,
        diags,
        providers: Vec::new(),
        vifs: BTreeMap::new(),
        moved: Vec::new(),
        backend: None,
        redact: Vec::new(),
    };
    for (src, body) in files.iter().zip(&bodies) {
        if let Some(body) = body {
            loader.load_file(src, body);
        }
    }
    loader.finish(files)
}

struct Loader<'a> {
    ev: Evaluator<'a>,
    diags: Vec<Diagnostic>,
    providers: Vec<Provider>,
    vifs: BTreeMap<VifId, VifDecl>,
    moved: Vec<MovedBlock>,
    backend: Option<BackendBlock>,
    /// Spans of literal auth keys, masked in the snippets diagnostics show.
    redact: Vec<(String, std::ops::Range<usize>)>,
}

/// A declared VIF and where its `provider = aws.<alias>` reference sits.
struct VifDecl {
    spec: VifSpec,
    alias: Option<String>,
    alias_at: Option<(Location, Option<std::ops::Range<usize>>)>,
}

const TOP_LEVEL_BLOCKS: &[&str] = &[
    "provider",
    "variable",
    "virtual_interface",
    "moved",
    "backend",
];
const PROVIDER_ATTRIBUTES: &[&str] = &["alias", "region", "profile"];

impl Loader<'_> {
    fn load_file(&mut self, src: &SourceFile, body: &Body) {
        for structure in body.iter() {
            match structure {
                Structure::Attribute(attr) => self.diags.push(
                    Diagnostic::at(src, attr.span(), "unknown-attribute", format!("unexpected top-level attribute `{}`", attr.key.as_str()))
                        .with_hint("only provider, variable, virtual_interface, moved and backend blocks belong at the top level"),
                ),
                Structure::Block(block) => match block.ident.as_str() {
                    "provider" => self.provider_block(src, block),
                    "variable" => {}
                    "virtual_interface" => self.vif_block(src, block),
                    "moved" => {
                        if let Some(m) = moved::moved_block(src, block, &mut self.diags) {
                            self.moved.push(m);
                        }
                    }
                    "backend" => {
                        if let Some(b) = backend::backend_block(src, block, &mut self.diags) {
                            backend::keep_first(&mut self.backend, b, src, block, &mut self.diags);
                        }
                    }
                    other => {
                        let mut d = Diagnostic::at(src, block.ident.span(), "unknown-block", format!("unknown block type `{other}`"));
                        d.hint = Some(suggest(other, TOP_LEVEL_BLOCKS));
                        self.diags.push(d);
                    }
                },
            }
        }
    }

    fn provider_block(&mut self, src: &SourceFile, block: &Block) {
        if block.labels.len() != 1 || block.labels[0].as_str() != "aws" {
            self.diags.push(Diagnostic::at(
                src,
                block.span(),
                "provider-label",
                "a provider block must be `provider \"aws\" { ... }`",
            ));
            return;
        }
        let attrs = attributes(src, &block.body, PROVIDER_ATTRIBUTES, &mut self.diags);
        let mut text = |key: &str| {
            attrs
                .get(key)
                .and_then(|a| self.ev.string(src, a, &mut self.diags))
                .map(|(s, _)| s)
        };
        let (alias, region, profile) = (text("alias"), text("region"), text("profile"));
        if region.as_deref().is_some_and(|r| r.trim().is_empty()) {
            self.diags.push(
                Diagnostic::at(
                    src,
                    attrs.get("region").and_then(|a| a.value.span()),
                    "region-empty",
                    "`region` is empty",
                )
                .with_hint(
                    "name an AWS region, e.g. region = \"us-east-1\", or remove `region` to take it from \
                     --region or AWS_REGION",
                ),
            );
        }
        let location = src.span_location(block.span());
        if let Some(first) = self.providers.iter().find(|p| p.alias == alias) {
            let what = alias
                .as_deref()
                .map_or("the default `provider \"aws\"` block".to_string(), |a| {
                    format!("provider alias `{a}`")
                });
            self.diags.push(
                Diagnostic::at(
                    src,
                    block.span(),
                    "duplicate-provider",
                    format!("{what} is declared twice"),
                )
                .with_hint(format!("first declared at {}", first.location)),
            );
            return;
        }
        self.providers.push(Provider {
            alias,
            region,
            profile,
            location,
        });
    }

    fn vif_block(&mut self, src: &SourceFile, block: &Block) {
        let loc = src.span_location(block.span());
        let [label] = block.labels.as_slice() else {
            self.diags.push(Diagnostic::at(
                src,
                block.span(),
                "vif-label",
                "a virtual_interface block takes exactly one label, its id: `virtual_interface \"dxvif-...\" { ... }`",
            ));
            return;
        };
        let id = label.as_str();
        if !validate::is_vif_id(id) {
            self.diags.push(
                Diagnostic::at(
                    src,
                    label.span(),
                    "vif-id",
                    format!("`{id}` is not a virtual interface id"),
                )
                .with_hint("virtual interface ids look like `dxvif-fg1vuj3d`"),
            );
        }
        let id = VifId(id.to_string());
        if let Some(VifDecl { spec: first, .. }) = self.vifs.get(&id) {
            self.diags.push(
                Diagnostic::at(
                    src,
                    block.span(),
                    "duplicate-vif",
                    format!("virtual_interface \"{id}\" is declared twice"),
                )
                .with_hint(format!(
                    "first declared at {}; keep all of its peers in one block",
                    first.location
                )),
            );
            return;
        }
        let mut provider = None;
        let mut peers = Vec::new();
        let mut labels: BTreeMap<String, Location> = BTreeMap::new();
        for structure in block.body.iter() {
            match structure {
                Structure::Attribute(attr) if attr.key.as_str() == "provider" => {
                    let alias = provider_ref(src, attr, &mut self.diags);
                    provider = Some((
                        alias,
                        src.span_location(attr.value.span()),
                        attr.value.span(),
                    ));
                }
                Structure::Attribute(attr) => {
                    let mut d = Diagnostic::at(
                        src,
                        attr.span(),
                        "unknown-attribute",
                        format!(
                            "unknown attribute `{}` in virtual_interface",
                            attr.key.as_str()
                        ),
                    );
                    d.hint = Some(suggest(attr.key.as_str(), &["provider"]));
                    self.diags.push(d);
                }
                Structure::Block(peer) if peer.ident.as_str() == "bgp_peer" => {
                    let peer_loc = src.span_location(peer.span());
                    let [peer_label] = peer.labels.as_slice() else {
                        self.diags.push(Diagnostic::at(src, peer.span(), "peer-label", "a bgp_peer block takes exactly one label: `bgp_peer \"<name>\" { ... }`"));
                        continue;
                    };
                    let name = peer_label.as_str().to_string();
                    if let Some(first) = labels.get(&name) {
                        self.diags.push(
                            Diagnostic::at(src, peer.span(), "duplicate-label", format!("bgp_peer \"{name}\" is declared twice in virtual_interface \"{id}\""))
                                .with_hint(format!("first declared at {first}; labels must be unique within a virtual_interface")),
                        );
                        continue;
                    }
                    labels.insert(name.clone(), peer_loc.clone());
                    let attrs =
                        attributes(src, &peer.body, validate::PEER_ATTRIBUTES, &mut self.diags);
                    // A literal key in the file is shown masked; an expression (env(), var.x) is not secret text.
                    if let Some(attr) = attrs
                        .get("auth_key")
                        .filter(|a| matches!(a.value, Expression::String(_)))
                    {
                        if let Some(span) = attr.value.span() {
                            self.redact.push((src.display_path.clone(), span));
                        }
                    }
                    let span = peer.ident.span();
                    if let Some(spec) =
                        validate::peer(src, &self.ev, name, span, &attrs, &mut self.diags)
                    {
                        peers.push(spec);
                    }
                }
                Structure::Block(other) => {
                    let mut d = Diagnostic::at(
                        src,
                        other.ident.span(),
                        "unknown-block",
                        format!(
                            "unknown block type `{}` in virtual_interface",
                            other.ident.as_str()
                        ),
                    );
                    d.hint = Some(suggest(other.ident.as_str(), &["bgp_peer"]));
                    self.diags.push(d);
                }
            }
        }
        validate::across_peers(src, &id, &peers, &mut self.diags);
        let (alias, alias_at) = match provider {
            Some((Some(alias), at, span)) => (Some(alias), Some((at, span))),
            _ => (None, None),
        };
        let spec = VifSpec {
            id: id.clone(),
            scope: Scope::default(),
            peers,
            location: loc,
        };
        self.vifs.insert(
            id,
            VifDecl {
                spec,
                alias,
                alias_at,
            },
        );
    }

    fn finish(mut self, files: &[SourceFile]) -> Result<Config, Diagnostics> {
        // Every provider a VIF names must exist.
        for decl in self.vifs.values() {
            if let (Some(alias), Some((at, span))) = (&decl.alias, &decl.alias_at) {
                if !self
                    .providers
                    .iter()
                    .any(|p| p.alias.as_deref() == Some(alias.as_str()))
                {
                    let known: Vec<&str> = self
                        .providers
                        .iter()
                        .filter_map(|p| p.alias.as_deref())
                        .collect();
                    let mut d = Diagnostic::new(at.clone(), "unknown-provider", format!("virtual_interface \"{}\" uses provider aws.{alias}, which is not declared", decl.spec.id));
                    d.span = span.clone();
                    d.hint = Some(if known.is_empty() {
                        format!("declare it: provider \"aws\" {{ alias = \"{alias}\" ... }}")
                    } else {
                        suggest(alias, &known)
                    });
                    self.diags.push(d);
                }
            }
        }
        if !self.diags.is_empty() {
            return Err(Diagnostics {
                items: self.diags,
                sources: files
                    .iter()
                    .map(|f| (f.display_path.clone(), masked(f, &self.redact)))
                    .collect(),
            });
        }
        Ok(Config {
            providers: self.providers,
            vifs: self.vifs.into_values().map(|d| (d.spec, d.alias)).collect(),
            moved: self.moved,
            backend: self.backend,
        })
    }
}

/// The file's text with literal auth keys replaced by `*`, keeping every byte offset.
fn masked(src: &SourceFile, redact: &[(String, std::ops::Range<usize>)]) -> String {
    let mut text = src.text.clone();
    for (_, span) in redact.iter().filter(|(f, _)| *f == src.display_path) {
        if let Some(secret) = src.text.get(span.clone()) {
            let stars: String = secret.chars().map(|c| "*".repeat(c.len_utf8())).collect();
            text.replace_range(span.clone(), &stars);
        }
    }
    text
}

/// `provider = aws` or `provider = aws.<alias>`; returns the alias.
fn provider_ref(src: &SourceFile, attr: &Attribute, diags: &mut Vec<Diagnostic>) -> Option<String> {
    let bad = |diags: &mut Vec<Diagnostic>| {
        diags.push(
            Diagnostic::at(
                src,
                attr.value.span(),
                "provider-ref",
                "`provider` must name a provider: aws or aws.<alias>",
            )
            .with_hint("for example provider = aws.eu"),
        );
        None
    };
    match &attr.value {
        Expression::Variable(v) if v.as_str() == "aws" => None,
        Expression::Traversal(t) => match (&t.expr, t.operators.as_slice()) {
            (Expression::Variable(v), [op]) if v.as_str() == "aws" => match op.value() {
                TraversalOperator::GetAttr(alias) => Some(alias.as_str().to_string()),
                _ => bad(diags),
            },
            _ => bad(diags),
        },
        _ => bad(diags),
    }
}

/// The attributes of a block body, flagging unknown or repeated ones and nested blocks.
fn attributes<'a>(
    src: &SourceFile,
    body: &'a Body,
    allowed: &[&str],
    diags: &mut Vec<Diagnostic>,
) -> BTreeMap<&'a str, &'a Attribute> {
    let mut out = BTreeMap::new();
    for structure in body.iter() {
        match structure {
            Structure::Attribute(attr) => {
                let key = attr.key.as_str();
                if !allowed.contains(&key) {
                    let mut d = Diagnostic::at(
                        src,
                        attr.key.span(),
                        "unknown-attribute",
                        format!("unknown attribute `{key}`"),
                    );
                    d.hint = Some(suggest(key, allowed));
                    diags.push(d);
                } else {
                    // hcl-edit's parser already refuses a repeated attribute as a syntax error.
                    out.insert(key, attr);
                }
            }
            Structure::Block(block) => diags.push(Diagnostic::at(
                src,
                block.ident.span(),
                "unknown-block",
                format!("unexpected block `{}` here", block.ident.as_str()),
            )),
        }
    }
    out
}

/// "did you mean" text for a misspelt name.
fn suggest(got: &str, allowed: &[&str]) -> String {
    match closest(got, allowed) {
        Some(name) => format!("did you mean `{name}`?"),
        None => format!("expected one of: {}", allowed.join(", ")),
    }
}

/// The allowed name closest to a misspelt one, when one is close enough to be what was meant.
fn closest<'a>(got: &str, allowed: &[&'a str]) -> Option<&'a str> {
    allowed
        .iter()
        .map(|a| (strsim::jaro_winkler(got, a), *a))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, name)| name)
}

#[cfg(test)]
mod tests;
