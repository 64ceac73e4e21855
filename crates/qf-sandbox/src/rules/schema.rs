//! The layout of a rules file: which keys exist, what type each holds, and the limits on
//! how many. Reads the [`Node`] tree into a [`RawFile`] whose strings are not yet parsed.
//!
//! Every problem is reported and reading goes on, so one pass lists all of them; whatever
//! could not be read is left out of the result.

use super::document::{Entry, Kind, Node};
use super::locate::{Reporter, Text, clip};
use super::suggest::did_you_mean;
use super::{
    MAX_ACTIONS, MAX_NAME_LEN, MAX_PARAMS, MAX_STATES, MAX_TRANSITIONS, MAX_VARS, WILDCARD,
};
use crate::shown;

/// A declared parameter, checked for consistency but not yet against other names.
#[derive(Debug, Clone)]
pub(crate) struct RawParam {
    pub name: Text,
    pub default: f64,
    pub min: f64,
    pub max: f64,
    pub integer: bool,
    pub help: String,
}

/// One `[[transitions]]` entry; `at` is where its table starts.
#[derive(Debug, Clone)]
pub(crate) struct RawTransition {
    pub at: usize,
    pub from: Vec<Text>,
    pub to: Option<Text>,
    pub when: Option<Text>,
    pub actions: Vec<Text>,
}

/// Everything the file declares, strings unparsed.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawFile {
    pub name: Option<Text>,
    pub description: Option<Text>,
    pub states: Vec<Text>,
    pub initial: Option<Text>,
    pub params: Vec<RawParam>,
    pub indicators: Vec<(Text, Text)>,
    pub vars: Vec<(Text, f64)>,
    pub requires: Vec<Text>,
    pub transitions: Vec<RawTransition>,
}

const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "states",
    "initial",
    "params",
    "indicators",
    "vars",
    "requires",
    "transitions",
];
const PARAM_KEYS: &[&str] = &["default", "min", "max", "integer", "help"];
const TRANSITION_KEYS: &[&str] = &["from", "to", "when", "do"];

/// Reads the layout of a file. `map_word` names a mapping in the file's format.
pub(crate) fn read(rep: &mut Reporter<'_>, root: &Node, map_word: &'static str) -> RawFile {
    let mut file = RawFile::default();
    let Kind::Map(entries) = &root.kind else {
        let msg = match root.kind {
            Kind::Null => "the file is empty; a rules file needs at least `states`, `initial` and `transitions`".to_string(),
            _ => format!(
                "expected keys such as `states` and `transitions` at the top of the file, found {}",
                root.type_name(map_word)
            ),
        };
        if matches!(root.kind, Kind::Null) {
            rep.whole(msg);
        } else {
            rep.error(root.span.start, msg);
        }
        return file;
    };
    let r = Reader { map_word };
    for Entry { key, value } in entries {
        match key.value.as_str() {
            "name" => file.name = r.text(rep, value, "name"),
            "description" => file.description = r.text(rep, value, "description"),
            "states" => {
                let states = r.texts(rep, value, "states", false);
                for (k, s) in states.into_iter().enumerate() {
                    if k == MAX_STATES {
                        rep.error(
                            s.span.start,
                            format!("too many states: at most {MAX_STATES} are allowed"),
                        );
                        break;
                    }
                    file.states.push(s);
                }
            }
            "initial" => file.initial = r.text(rep, value, "initial"),
            "params" => {
                for (k, e) in r.entries(rep, value, "params").iter().enumerate() {
                    if k == MAX_PARAMS {
                        rep.error(
                            e.key.span.start,
                            format!("too many parameters: at most {MAX_PARAMS} are allowed"),
                        );
                        break;
                    }
                    if let Some(p) = r.param(rep, e) {
                        file.params.push(p);
                    }
                }
            }
            "indicators" => {
                for e in r.entries(rep, value, "indicators") {
                    if let Some(t) = r.text(rep, &e.value, &format!("indicator `{}`", e.key.value))
                    {
                        file.indicators.push((e.key.clone(), t));
                    }
                }
            }
            "vars" => {
                for (k, e) in r.entries(rep, value, "vars").iter().enumerate() {
                    if k == MAX_VARS {
                        rep.error(
                            e.key.span.start,
                            format!("too many vars: at most {MAX_VARS} are allowed"),
                        );
                        break;
                    }
                    if let Some(x) = r.number(rep, &e.value, &format!("var `{}`", e.key.value)) {
                        file.vars.push((e.key.clone(), x));
                    }
                }
            }
            "requires" => file.requires = r.texts(rep, value, "requires", true),
            "transitions" => {
                let Kind::Seq(items) = &value.kind else {
                    if reported(value) {
                        continue;
                    }
                    rep.error_help(
                        value.span.start,
                        format!(
                            "`transitions` must be a list of {map_word}s, not {}",
                            value.type_name(map_word)
                        ),
                        Some(if map_word == "table" {
                            "write each one under its own `[[transitions]]` header".into()
                        } else {
                            "write each one as a list item starting with `- from: ...`".into()
                        }),
                    );
                    continue;
                };
                for (k, item) in items.iter().enumerate() {
                    if k == MAX_TRANSITIONS {
                        rep.error(
                            item.span.start,
                            format!("too many transitions: at most {MAX_TRANSITIONS} are allowed"),
                        );
                        break;
                    }
                    if let Some(t) = r.transition(rep, item) {
                        file.transitions.push(t);
                    }
                }
            }
            other => rep.error_help(
                key.span.start,
                format!("unknown key `{}`", clip(other)),
                did_you_mean(other, TOP_KEYS.iter().copied()).or_else(|| {
                    Some(format!(
                        "the keys of a rules file are: {}",
                        TOP_KEYS.join(", ")
                    ))
                }),
            ),
        }
    }
    let missing: Vec<&str> = ["states", "initial", "transitions"]
        .into_iter()
        .filter(|k| !entries.iter().any(|e| e.key.value == *k))
        .collect();
    for k in missing {
        let help = match k {
            "states" => "declare them, e.g. `states = [\"flat\", \"long\"]`",
            "initial" => "name the state to start in, e.g. `initial = \"flat\"`",
            _ => "add at least one transition with `from`, `to` and `when`",
        };
        rep.error_help(
            root.span.start,
            format!("missing `{k}`"),
            Some(help.to_string()),
        );
    }
    file
}

struct Reader {
    map_word: &'static str,
}

impl Reader {
    fn text(&self, rep: &mut Reporter<'_>, node: &Node, what: &str) -> Option<Text> {
        let t = node.as_text();
        if t.is_none() && !reported(node) {
            rep.error(
                node.span.start,
                format!(
                    "{what} must be a string, not {}",
                    node.type_name(self.map_word)
                ),
            );
        }
        t
    }

    /// A list of strings; `single` also accepts one string on its own.
    fn texts(&self, rep: &mut Reporter<'_>, node: &Node, what: &str, single: bool) -> Vec<Text> {
        match &node.kind {
            Kind::Str(_) if single => node.as_text().into_iter().collect(),
            Kind::Seq(items) => items
                .iter()
                .filter_map(|i| self.text(rep, i, &format!("each of `{what}`")))
                .collect(),
            _ if reported(node) => Vec::new(),
            _ => {
                rep.error(
                    node.span.start,
                    format!(
                        "`{what}` must be a list of strings, not {}",
                        node.type_name(self.map_word)
                    ),
                );
                Vec::new()
            }
        }
    }

    fn number(&self, rep: &mut Reporter<'_>, node: &Node, what: &str) -> Option<f64> {
        match node.as_number() {
            Some(x) if x.is_finite() => Some(x),
            Some(_) => {
                rep.error(node.span.start, format!("{what} must be a finite number"));
                None
            }
            None if reported(node) => None,
            None => {
                rep.error(
                    node.span.start,
                    format!(
                        "{what} must be a number, not {}",
                        node.type_name(self.map_word)
                    ),
                );
                None
            }
        }
    }

    fn entries<'n>(&self, rep: &mut Reporter<'_>, node: &'n Node, what: &str) -> &'n [Entry] {
        match &node.kind {
            Kind::Map(entries) => entries,
            _ if reported(node) => &[],
            _ => {
                rep.error(
                    node.span.start,
                    format!(
                        "`{what}` must be a {} of names, not {}",
                        self.map_word,
                        node.type_name(self.map_word)
                    ),
                );
                &[]
            }
        }
    }

    fn param(&self, rep: &mut Reporter<'_>, e: &Entry) -> Option<RawParam> {
        let name = &e.key.value;
        let what = |k: &str| format!("`{k}` of parameter `{name}`");
        let mut p = RawParam {
            name: e.key.clone(),
            default: 0.0,
            min: f64::NEG_INFINITY,
            max: f64::INFINITY,
            integer: false,
            help: String::new(),
        };
        match &e.value.kind {
            Kind::Int(_) | Kind::Float(_) => {
                p.default = self.number(rep, &e.value, &format!("parameter `{name}`"))?;
                Some(p)
            }
            Kind::Invalid => None,
            Kind::Map(fields) => {
                let mut default = None;
                let before = rep.count();
                for f in fields {
                    match f.key.value.as_str() {
                        "default" => default = self.number(rep, &f.value, &what("default")),
                        "min" => p.min = self.number(rep, &f.value, &what("min")).unwrap_or(p.min),
                        "max" => p.max = self.number(rep, &f.value, &what("max")).unwrap_or(p.max),
                        "integer" => match f.value.kind {
                            Kind::Bool(b) => p.integer = b,
                            _ => rep.error(
                                f.value.span.start,
                                format!("{} must be true or false", what("integer")),
                            ),
                        },
                        "help" => {
                            p.help = self
                                .text(rep, &f.value, &what("help"))
                                .map(|t| t.value)
                                .unwrap_or_default()
                        }
                        other => rep.error_help(
                            f.key.span.start,
                            format!("unknown key `{}` in parameter `{name}`", clip(other)),
                            did_you_mean(other, PARAM_KEYS.iter().copied()).or_else(|| {
                                Some(format!(
                                    "a parameter has: {} (only `default` is required)",
                                    PARAM_KEYS.join(", ")
                                ))
                            }),
                        ),
                    }
                }
                let Some(default) = default else {
                    if rep.count() == before {
                        rep.error_help(
                            e.key.span.start,
                            format!("parameter `{name}` has no `default`"),
                            Some("add `default = <number>`".into()),
                        );
                    }
                    return None;
                };
                p.default = default;
                if rep.count() != before {
                    return None;
                }
                let at = e.value.span.start;
                if p.min > p.max {
                    rep.error(
                        at,
                        format!(
                            "parameter `{name}` has min {} above max {}",
                            shown::float(p.min),
                            shown::float(p.max)
                        ),
                    );
                    return None;
                }
                if p.default < p.min || p.default > p.max {
                    rep.error(
                        at,
                        format!(
                            "default {} of parameter `{name}` is outside its range {}..{}",
                            shown::float(p.default),
                            shown::float(p.min),
                            shown::float(p.max)
                        ),
                    );
                    return None;
                }
                if p.integer && p.default.fract() != 0.0 {
                    rep.error(
                        at,
                        format!(
                            "default {} of integer parameter `{name}` is not a whole number",
                            shown::float(p.default)
                        ),
                    );
                    return None;
                }
                Some(p)
            }
            _ => {
                rep.error_help(
                    e.value.span.start,
                    format!(
                        "parameter `{name}` must be a number or a {}, not {}",
                        self.map_word,
                        e.value.type_name(self.map_word)
                    ),
                    Some(format!(
                        "write `{name} = 10` or `{name} = {{ default = 10, min = 1, max = 100 }}`"
                    )),
                );
                None
            }
        }
    }

    fn transition(&self, rep: &mut Reporter<'_>, node: &Node) -> Option<RawTransition> {
        let Kind::Map(fields) = &node.kind else {
            if reported(node) {
                return None;
            }
            rep.error(
                node.span.start,
                format!(
                    "each transition must be a {} with `from`, `to` and `when`, not {}",
                    self.map_word,
                    node.type_name(self.map_word)
                ),
            );
            return None;
        };
        let mut t = RawTransition {
            at: node.span.start,
            from: Vec::new(),
            to: None,
            when: None,
            actions: Vec::new(),
        };
        let mut has_from = false;
        for f in fields {
            match f.key.value.as_str() {
                "from" => {
                    has_from = true;
                    t.from = self.texts(rep, &f.value, "from", true);
                    if matches!(&f.value.kind, Kind::Seq(items) if items.is_empty()) {
                        rep.error_help(
                            f.value.span.start,
                            "`from` names no state, so the transition could never fire",
                            Some(format!("name a state, or `\"{WILDCARD}\"` for any state")),
                        );
                    }
                }
                "to" => t.to = self.text(rep, &f.value, "`to`"),
                "when" => t.when = self.text(rep, &f.value, "`when`"),
                "do" => {
                    t.actions = self.texts(rep, &f.value, "do", true);
                    if let Some(extra) = t.actions.get(MAX_ACTIONS) {
                        rep.error(
                            extra.span.start,
                            format!("too many actions: at most {MAX_ACTIONS} per transition"),
                        );
                        t.actions.truncate(MAX_ACTIONS);
                    }
                }
                other => rep.error_help(
                    f.key.span.start,
                    format!("unknown key `{}` in a transition", clip(other)),
                    did_you_mean(other, TRANSITION_KEYS.iter().copied()).or_else(|| {
                        Some(format!("a transition has: {}", TRANSITION_KEYS.join(", ")))
                    }),
                ),
            }
        }
        if !has_from {
            rep.error_help(
                t.at,
                "transition has no `from`",
                Some(format!(
                    "add `from = \"<state>\"`, or `from = \"{WILDCARD}\"` for any state"
                )),
            );
        }
        if t.when.is_none() && !fields.iter().any(|f| f.key.value == "when") {
            rep.error_help(
                t.at,
                "transition has no `when`",
                Some("add `when = \"<condition>\"`; `when = \"true\"` always fires".into()),
            );
        }
        Some(t)
    }
}

/// Whether a value was already reported when the file was read.
fn reported(node: &Node) -> bool {
    matches!(node.kind, Kind::Invalid)
}

/// Whether `s` is a valid name: ASCII letters, digits and `_`, not starting with a digit.
pub(crate) fn check_name(rep: &mut Reporter<'_>, t: &Text, what: &str) -> bool {
    let s = t.value.as_str();
    let ok = s
        .bytes()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_');
    if !ok {
        rep.error_help(
            t.offset_of(rep.source, 0),
            format!("`{}` is not a valid {what} name", s.escape_default()),
            Some("use letters, digits and `_`, starting with a letter".into()),
        );
        return false;
    }
    if s.len() > MAX_NAME_LEN {
        rep.error(
            t.offset_of(rep.source, 0),
            format!("{what} name is longer than {MAX_NAME_LEN} characters"),
        );
        return false;
    }
    true
}
