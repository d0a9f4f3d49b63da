//! Loads `*.hcl` files into `Desired`, checking every rule knowable without AWS and locating each mistake.

mod diagnostic;
mod eval;
mod source;
mod validate;

use std::collections::BTreeMap;
use std::path::Path;

use hcl_edit::repr::Span;
use hcl_edit::structure::{Attribute, Block, Body, Structure};

pub use diagnostic::{Diagnostic, Diagnostics};
pub use source::SourceFile;

use crate::model::{Desired, Location, VifId, VifSpec};

/// A loaded config before its region is resolved against the AWS config chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `region` from the default `provider "aws"` block, if given.
    pub provider_region: Option<String>,
    /// Declared VIFs, sorted by id; their `region` is empty until [`Config::desired`].
    vifs: Vec<VifSpec>,
}

impl Config {
    /// Whether the config itself names a region; if not, the caller resolves one.
    pub fn needs_region(&self) -> bool {
        self.provider_region.is_none() && !self.vifs.is_empty()
    }

    /// The desired state, with every VIF placed in the provider's region or else `fallback_region`.
    pub fn desired(&self, fallback_region: &str) -> Desired {
        let region = self.provider_region.as_deref().unwrap_or(fallback_region);
        Desired {
            vifs: self
                .vifs
                .iter()
                .cloned()
                .map(|mut v| {
                    v.region = region.to_string();
                    v
                })
                .collect(),
        }
    }
}

/// Reads every `*.hcl` file directly in `dir` (sorted, non-recursive).
pub fn load_dir(dir: &Path) -> Result<Config, anyhow::Error> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("cannot read config directory {}: {e}", dir.display()))?;
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "hcl") && p.is_file())
        .collect();
    paths.sort();
    if paths.is_empty() {
        anyhow::bail!("no *.hcl files in {}", dir.display());
    }
    let mut files = Vec::new();
    for path in paths {
        let bytes = std::fs::read(&path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let display = path.display().to_string();
        match String::from_utf8(bytes) {
            Ok(text) => files.push(SourceFile::new(display, text)),
            Err(_) => {
                return Err(Diagnostics(vec![Diagnostic::new(
                    Location {
                        file: display,
                        line: 1,
                        column: 1,
                    },
                    "encoding",
                    "config files must be UTF-8",
                )])
                .into())
            }
        }
    }
    Ok(load_sources(&files)?)
}

/// Loads already-read sources; pure apart from `env()` lookups.
pub fn load_sources(files: &[SourceFile]) -> Result<Config, Diagnostics> {
    let mut loader = Loader::default();
    for file in files {
        loader.load_file(file);
    }
    loader.finish()
}

#[derive(Default)]
struct Loader {
    diags: Vec<Diagnostic>,
    provider: Option<(Option<String>, Location)>,
    vifs: BTreeMap<VifId, VifSpec>,
}

const TOP_LEVEL_BLOCKS: &[&str] = &["provider", "virtual_interface"];

impl Loader {
    fn load_file(&mut self, src: &SourceFile) {
        let body = match hcl_edit::parser::parse_body(&src.text) {
            Ok(body) => body,
            Err(e) => {
                let loc = e.location();
                self.diags.push(
                    Diagnostic::new(
                        src.at(loc.line(), loc.column()),
                        "syntax",
                        format!("invalid HCL: {}", e.message()),
                    )
                    .with_hint(format!("this line reads: {}", e.line().trim())),
                );
                return;
            }
        };
        for structure in body.iter() {
            match structure {
                Structure::Attribute(attr) => {
                    self.diags.push(Diagnostic::new(
                        src.span_location(attr.span()),
                        "unknown-attribute",
                        format!("unexpected top-level attribute `{}`", attr.key.as_str()),
                    ).with_hint("only `provider` and `virtual_interface` blocks belong at the top level"));
                }
                Structure::Block(block) => match block.ident.as_str() {
                    "provider" => self.provider_block(src, block),
                    "virtual_interface" => self.vif_block(src, block),
                    other => {
                        let mut d = Diagnostic::new(
                            src.span_location(block.span()),
                            "unknown-block",
                            format!("unknown block type `{other}`"),
                        );
                        d.hint = Some(suggest(other, TOP_LEVEL_BLOCKS));
                        self.diags.push(d);
                    }
                },
            }
        }
    }

    fn provider_block(&mut self, src: &SourceFile, block: &Block) {
        let loc = src.span_location(block.span());
        if block.labels.len() != 1 || block.labels[0].as_str() != "aws" {
            self.diags.push(Diagnostic::new(
                loc.clone(),
                "provider-label",
                "a provider block must be `provider \"aws\" { ... }`",
            ));
            return;
        }
        let attrs = attributes(src, &block.body, &["region"], &mut self.diags);
        let region = attrs
            .get("region")
            .and_then(|a| eval::string(src, a, &mut self.diags));
        if let Some((_, first)) = &self.provider {
            self.diags.push(
                Diagnostic::new(
                    loc,
                    "duplicate-provider",
                    "the default `provider \"aws\"` block is declared twice",
                )
                .with_hint(format!("first declared at {first}")),
            );
            return;
        }
        self.provider = Some((region, loc));
    }

    fn vif_block(&mut self, src: &SourceFile, block: &Block) {
        let loc = src.span_location(block.span());
        let [label] = block.labels.as_slice() else {
            self.diags.push(Diagnostic::new(
                loc,
                "vif-label",
                "a virtual_interface block takes exactly one label, its id: `virtual_interface \"dxvif-...\" { ... }`",
            ));
            return;
        };
        let id = label.as_str();
        if !validate::is_vif_id(id) {
            self.diags.push(
                Diagnostic::new(
                    loc.clone(),
                    "vif-id",
                    format!("`{id}` is not a virtual interface id"),
                )
                .with_hint("virtual interface ids look like `dxvif-fg1vuj3d`"),
            );
        }
        let id = VifId(id.to_string());
        if let Some(first) = self.vifs.get(&id) {
            self.diags.push(
                Diagnostic::new(
                    loc,
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
        let mut peers = Vec::new();
        let mut labels: BTreeMap<String, Location> = BTreeMap::new();
        for structure in block.body.iter() {
            match structure {
                Structure::Attribute(attr) => self.diags.push(
                    Diagnostic::new(
                        src.span_location(attr.span()),
                        "unknown-attribute",
                        format!(
                            "unknown attribute `{}` in virtual_interface",
                            attr.key.as_str()
                        ),
                    )
                    .with_hint(
                        "a virtual_interface holds only `bgp_peer \"<label>\" { ... }` blocks",
                    ),
                ),
                Structure::Block(peer) if peer.ident.as_str() == "bgp_peer" => {
                    let peer_loc = src.span_location(peer.span());
                    let [peer_label] = peer.labels.as_slice() else {
                        self.diags.push(Diagnostic::new(
                            peer_loc,
                            "peer-label",
                            "a bgp_peer block takes exactly one label: `bgp_peer \"<name>\" { ... }`",
                        ));
                        continue;
                    };
                    let name = peer_label.as_str().to_string();
                    if let Some(first) = labels.get(&name) {
                        self.diags.push(
                            Diagnostic::new(
                                peer_loc,
                                "duplicate-label",
                                format!("bgp_peer \"{name}\" is declared twice in virtual_interface \"{id}\""),
                            )
                            .with_hint(format!("first declared at {first}; labels must be unique within a virtual_interface")),
                        );
                        continue;
                    }
                    labels.insert(name.clone(), peer_loc.clone());
                    let attrs =
                        attributes(src, &peer.body, validate::PEER_ATTRIBUTES, &mut self.diags);
                    if let Some(spec) = validate::peer(src, name, peer_loc, &attrs, &mut self.diags)
                    {
                        peers.push(spec);
                    }
                }
                Structure::Block(other) => {
                    let mut d = Diagnostic::new(
                        src.span_location(other.span()),
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
        validate::across_peers(&id, &peers, &mut self.diags);
        self.vifs.insert(
            id.clone(),
            VifSpec {
                id,
                region: String::new(),
                peers,
                location: loc,
            },
        );
    }

    fn finish(self) -> Result<Config, Diagnostics> {
        if !self.diags.is_empty() {
            return Err(Diagnostics(self.diags));
        }
        Ok(Config {
            provider_region: self.provider.and_then(|(r, _)| r),
            vifs: self.vifs.into_values().collect(),
        })
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
                    let mut d = Diagnostic::new(
                        src.span_location(attr.span()),
                        "unknown-attribute",
                        format!("unknown attribute `{key}`"),
                    );
                    d.hint = Some(suggest(key, allowed));
                    diags.push(d);
                } else if out.insert(key, attr).is_some() {
                    diags.push(Diagnostic::new(
                        src.span_location(attr.span()),
                        "duplicate-attribute",
                        format!("attribute `{key}` is set twice"),
                    ));
                }
            }
            Structure::Block(block) => diags.push(Diagnostic::new(
                src.span_location(block.span()),
                "unknown-block",
                format!("unexpected block `{}` here", block.ident.as_str()),
            )),
        }
    }
    out
}

/// "did you mean" text for a misspelt name.
fn suggest(got: &str, allowed: &[&str]) -> String {
    let best = allowed
        .iter()
        .map(|a| (strsim::jaro_winkler(got, a), *a))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((_, name)) => format!("did you mean `{name}`?"),
        None => format!("expected one of: {}", allowed.join(", ")),
    }
}

#[cfg(test)]
mod tests;
