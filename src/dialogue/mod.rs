//! The decision core: message + conversation context + settings + clock → reply. A pure
//! function ([`decide`]): no server, model or database, so every rule is tested directly.
//!
//! Order of the rules: a pick from offered options, urgent situations, the citizen's own
//! sensitive data (privacy redirect, still answering the general question), handoff
//! intents, smalltalk,
//! follow-ups on the current topic, then answer / clarify / miss by the candidates'
//! confidence; two misses in a row go to a person.

pub mod glossary;
pub mod lang;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

pub use crate::knowledge::hours::{self, Lang};

use crate::config::DialogueConfig;
use crate::knowledge::{Action, KnowledgeBase, Role, TextKey, WHATSAPP_MAX_CHARS};
use crate::privacy::PiiKind;
use crate::understand::{Candidate, Understanding};

/// WhatsApp's limits for interactive options.
pub const OPTION_TITLE_MAX: usize = 24;
pub const OPTION_DESCRIPTION_MAX: usize = 72;
pub const MAX_OPTIONS: usize = 3;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplyOption {
    /// The FAQ id the option stands for; also the WhatsApp button id.
    pub id: String,
    /// At most 24 characters (a WhatsApp list row).
    pub title: String,
    /// The full title when it had to be shortened (at most 72 characters).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// What the conversation remembers between messages.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Context {
    pub last_intent: Option<String>,
    pub last_faq: Option<String>,
    #[serde(default)]
    pub options: Vec<ReplyOption>,
    #[serde(default)]
    pub misses: u32,
    pub updated_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub english: bool,
}

/// One incoming message, as the guard and the classifier saw it.
#[derive(Debug, Clone, Copy)]
pub struct Turn<'a> {
    /// The message with personal data replaced by placeholders.
    pub text: &'a str,
    /// The kinds of personal data the guard removed.
    pub pii: &'a [PiiKind],
    /// Understanding of the message (without a leading greeting, see `greeted`).
    pub understanding: &'a Understanding,
    /// Understanding with the conversation's topic (the entry last answered, or the
    /// options just offered) as a prior, when there was one.
    pub within_context: Option<&'a Understanding>,
    /// The message opened with a greeting that was stripped before understanding.
    pub greeted: bool,
    /// A WhatsApp button or list reply id.
    pub button_id: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reply {
    pub text: String,
    pub options: Vec<ReplyOption>,
    pub action: Action,
    pub intent: Option<String>,
    pub confidence: f32,
    pub faq_id: Option<String>,
}

/// A request for a person, with the department whose queue it goes to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HandoffRequest {
    pub department: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub reply: Reply,
    pub context: Context,
    pub handoff: Option<HandoffRequest>,
}

struct Env<'a> {
    kb: &'a KnowledgeBase,
    cfg: &'a DialogueConfig,
    now: DateTime<Utc>,
    lang: Lang,
}

impl Env<'_> {
    fn text(&self, key: TextKey) -> String {
        self.kb.text(key, self.lang)
    }
}

/// Decides the reply to one message.
pub fn decide(
    turn: &Turn<'_>,
    context: &Context,
    kb: &KnowledgeBase,
    cfg: &DialogueConfig,
    now: DateTime<Utc>,
) -> Outcome {
    let mut ctx = context.clone();
    let fresh = ctx
        .updated_at
        .is_some_and(|t| now - t <= Duration::minutes(cfg.context_idle_minutes));
    // After the idle time the context is gone, and with it the topic.
    let stale_topic;
    let turn = if fresh {
        turn
    } else {
        ctx = Context::default();
        stale_topic = Turn {
            within_context: None,
            ..*turn
        };
        &stale_topic
    };
    let lang = if turn.button_id.is_some()
        || lang::yes_no(turn.text).is_some()
        || turn
            .text
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_whitespace())
    {
        if ctx.english { Lang::En } else { Lang::Nl }
    } else {
        lang::detect(turn.text)
    };
    ctx.english = lang == Lang::En;
    ctx.updated_at = Some(now);
    let env = Env { kb, cfg, now, lang };
    let mut out = decide_inner(turn, &mut ctx, &env);
    out.reply.text = fit_whatsapp(&out.reply.text);
    out.context = ctx;
    out
}

/// The rules in order; the first that decides the reply wins. Each rule is a function of
/// its own so the order reads here at a glance.
fn decide_inner(turn: &Turn<'_>, ctx: &mut Context, env: &Env<'_>) -> Outcome {
    let top = TopIntent::of(turn.understanding, env);
    pick_from_options(turn, ctx, env) // 1.
        .or_else(|| urgent_to_person(turn, ctx, env)) // 2.
        .or_else(|| question_announced(turn, ctx, env)) // 2b.
        .or_else(|| own_sensitive_data(turn, ctx, env, &top)) // 3.
        .or_else(|| intent_for_a_person(turn, ctx, env, &top)) // 4.
        .or_else(|| smalltalk(ctx, env, &top)) // 5.
        .or_else(|| follow_up_on_topic(turn, ctx, env, &top)) // 6.
        .or_else(|| refers_back_to_topic(turn, ctx, env, &top)) // 6b.
        .or_else(|| out_of_scope(turn, ctx, env, &top)) // 7.
        .unwrap_or_else(|| answer_clarify_or_miss(turn, ctx, env, &top)) // 8.
}

/// Rule 2b: "Goedemiddag, ik heb een vraag": an invitation to ask it, not a handoff.
fn question_announced(turn: &Turn<'_>, ctx: &mut Context, env: &Env<'_>) -> Option<Outcome> {
    if !lang::announces_a_question(turn.text) {
        return None;
    }
    Some(reply(
        ctx,
        env.text(TextKey::AskAway),
        Action::Smalltalk,
        None,
        1.0,
        None,
    ))
}

/// The classifier's most likely intent and the action it leads to, which rules 3 to 8 weigh.
struct TopIntent<'u> {
    /// Empty when the classifier had no intent at all.
    name: &'u str,
    p: f32,
    action: Option<Action>,
}

impl<'u> TopIntent<'u> {
    fn of(u: &'u Understanding, env: &Env<'_>) -> Self {
        let top = u.top_intent();
        let name = top.map(|t| t.intent.as_str()).unwrap_or("");
        TopIntent {
            name,
            p: top.map(|t| t.probability).unwrap_or(0.0),
            action: env.kb.intent(name).map(|i| i.action),
        }
    }

    /// The intent leads to `action` and is at least `threshold` likely.
    fn leads_to(&self, action: Action, threshold: f32) -> bool {
        self.action == Some(action) && self.p >= threshold
    }
}

/// Whether the message, read with the conversation's topic, is about that topic: its best
/// entry is on the topic and the message asks for information. A short follow-up ("en hoe
/// lang duurt dat?", "is there a cost?") says little on its own, and the intent head often
/// gives it a weak lean towards a person, privacy or out of scope; the topic says more.
fn on_topic(turn: &Turn<'_>, env: &Env<'_>) -> bool {
    turn.within_context.is_some_and(|w| {
        w.answerable >= env.cfg.clarify_threshold
            && w.candidates.first().is_some_and(|c| c.on_topic)
    })
}

/// How likely an intent that leads to a person or to the privacy redirect must be to take
/// the message: plausible (`clarify_threshold`) on its own, more likely than not
/// (`answer_threshold`) when the message is on the conversation's topic ([`on_topic`]).
fn action_bar(turn: &Turn<'_>, env: &Env<'_>) -> f32 {
    if on_topic(turn, env) {
        env.cfg.answer_threshold
    } else {
        env.cfg.clarify_threshold
    }
}

/// Rule 1: A pick from the options offered last time. The options are forgotten either way:
/// they were offered for one message only.
fn pick_from_options(turn: &Turn<'_>, ctx: &mut Context, env: &Env<'_>) -> Option<Outcome> {
    if ctx.options.is_empty() {
        return None;
    }
    if let Some(option) = pick(turn, &ctx.options).cloned() {
        ctx.options.clear();
        if let Some(entry) = env.kb.entry(&option.id) {
            ctx.misses = 0;
            return Some(answer(env, ctx, entry.id.clone(), 1.0, None));
        }
    }
    if lang::yes_no(turn.text) == Some(false) {
        ctx.options.clear();
        return Some(reply(
            ctx,
            env.text(TextKey::ClarifyDeclined),
            Action::Clarify,
            None,
            0.0,
            None,
        ));
    }
    ctx.options.clear();
    None
}

/// Rule 2: Someone in danger or in crisis goes to a person at once.
fn urgent_to_person(turn: &Turn<'_>, ctx: &mut Context, env: &Env<'_>) -> Option<Outcome> {
    if !env.kb.texts.is_crisis(turn.text) {
        return None;
    }
    ctx.misses = 0;
    Some(handoff(
        env,
        ctx,
        env.text(TextKey::Urgent),
        "kcc",
        "urgent",
        None,
    ))
}

/// Rule 3: The citizen's own sensitive data (BSN, IBAN, medical details), or a question that
/// needs it: never processed here, but the general question is still answered. Other
/// personal data (a phone number, an e-mail address, …) was redacted by the guard and
/// does not stop the answer, and neither does a harmless number the guard left alone.
fn own_sensitive_data(
    turn: &Turn<'_>,
    ctx: &mut Context,
    env: &Env<'_>,
    top: &TopIntent<'_>,
) -> Option<Outcome> {
    let sensitive = turn.pii.iter().any(|k| k.needs_secure_channel());
    if !sensitive && !top.leads_to(Action::PrivacyRedirect, action_bar(turn, env)) {
        return None;
    }
    let u = turn.understanding;
    // A question about one's own case ("meldingsnummer … is nog open") has no general
    // question beside it: its words would only find an entry by accident.
    let own_case = !sensitive && env.kb.role_of(top.name) == Some(Role::OwnCase);
    let mut text = if sensitive {
        env.text(TextKey::Privacy)
    } else if own_case {
        env.text(TextKey::PrivacyOwnCase)
    } else {
        env.text(TextKey::PrivacyAboutData)
    };
    let mut faq = None;
    let mut confidence = top.p;
    // The personal data itself ("mijn BSN is …") pulls towards privacy entries; the general
    // question is the best answerable entry among the answerable ones, answered when its
    // share clears the same fitted bar as an answer on its own. A question *about*
    // one's data ("waar vind ik mijn BSN?") is answered from the privacy intent's own
    // entries too: they say where and how, without looking at anyone's data.
    let about_data = (!sensitive && !own_case).then_some(top.name);
    if !own_case
        && let Some((c, share)) = share_among(u, |c| {
            env.kb.answers(&c.intent) || about_data == Some(c.intent.as_str())
        })
        && share >= u.answer_at(c).max(env.cfg.answer_threshold)
        && u.support(c) >= env.cfg.clarify_threshold
    {
        let entry = env
            .kb
            .entry(&c.faq_id)
            .expect("candidate from the knowledge base");
        text = format!(
            "{text}\n\n{} {}",
            env.text(TextKey::PrivacyAndAnswer),
            answer_text(env, entry)
        );
        faq = Some(c.faq_id.clone());
        confidence = share;
        ctx.last_intent = Some(c.intent.clone()).filter(|i| !i.is_empty());
        ctx.last_faq = faq.clone();
    }
    Some(reply(
        ctx,
        text,
        Action::PrivacyRedirect,
        Some(top.name.to_string()).filter(|s| !s.is_empty()),
        confidence,
        faq,
    ))
}

/// Rule 4: Intents that always go to a person, in the department the citizen names if any.
fn intent_for_a_person(
    turn: &Turn<'_>,
    ctx: &mut Context,
    env: &Env<'_>,
    top: &TopIntent<'_>,
) -> Option<Outcome> {
    if !top.leads_to(Action::Handoff, action_bar(turn, env)) {
        return None;
    }
    ctx.misses = 0;
    let prefix = match env.kb.role_of(top.name) {
        Some(Role::Complaint) => env.text(TextKey::ComplaintPrefix),
        Some(Role::Situation) => env.text(TextKey::SituationPrefix),
        _ => String::new(),
    };
    let dept = named_department(turn.text, env.kb)
        .unwrap_or_else(|| env.kb.department_for_intent(top.name).to_string());
    Some(handoff(
        env,
        ctx,
        prefix,
        &dept,
        top.name,
        Some((top.name, top.p)),
    ))
}

/// Rule 5: Smalltalk: thanks, or a greeting.
fn smalltalk(ctx: &mut Context, env: &Env<'_>, top: &TopIntent<'_>) -> Option<Outcome> {
    if !top.leads_to(Action::Smalltalk, env.cfg.clarify_threshold) {
        return None;
    }
    let t = if env.kb.role_of(top.name) == Some(Role::Thanks) {
        TextKey::Thanks
    } else {
        TextKey::Greeting
    };
    Some(reply(
        ctx,
        env.text(t),
        Action::Smalltalk,
        Some(top.name.into()),
        top.p,
        None,
    ))
}

/// Rule 6: A message on the conversation's topic: a follow-up ("en wat kost dat?") or a
/// narrowing answer to the options just offered. Read with the topic as a prior
/// ([`Turn::within_context`]), its best entry is on the topic and confidently the answer;
/// a message clearly about something else leaves the topic, because then its best entry
/// is another one even with the prior.
fn follow_up_on_topic(
    turn: &Turn<'_>,
    ctx: &mut Context,
    env: &Env<'_>,
    top: &TopIntent<'_>,
) -> Option<Outcome> {
    let within = turn.within_context?;
    if asks_for_person_or_data(within, env, top) {
        return None;
    }
    // The topic stands in for the intent's support: "en voor kinderen?" says too little
    // for the intent head, but it asks for information.
    let chosen = confident_answer_by(within, env, |_| {
        within.answerable >= env.cfg.clarify_threshold
    })
    .filter(|c| c.on_topic)?;
    if out_of_scope_on_its_own(turn, env, top, |c| c.faq_id == chosen.faq_id) {
        return None;
    }
    ctx.misses = 0;
    Some(answer(
        env,
        ctx,
        chosen.faq_id.clone(),
        chosen.confidence,
        None,
    ))
}

/// A message that is out of scope on its own ("en wordt het morgen mooi weer?") is no
/// follow-up unless its own reading (its best five) finds what the topic would answer
/// (`found`): a follow-up that names nothing ("hoeveel weken van tevoren?") often reads as
/// out of scope on its own, but its words still find the topic's entry; the weather does
/// not.
fn out_of_scope_on_its_own(
    turn: &Turn<'_>,
    env: &Env<'_>,
    top: &TopIntent<'_>,
    found: impl Fn(&Candidate) -> bool,
) -> bool {
    top.leads_to(Action::Fallback, env.cfg.answer_threshold)
        && !turn.understanding.candidates.iter().any(found)
}

/// A confident request for a person or about one's own data is for the rules after rule 6:
/// confident on its own and with the topic. (Out of scope is judged by rule 7.)
fn asks_for_person_or_data(within: &Understanding, env: &Env<'_>, top: &TopIntent<'_>) -> bool {
    let top_within = TopIntent::of(within, env);
    [top, &top_within].iter().all(|t| {
        t.action
            .is_some_and(|a| a != Action::Answer && a != Action::Fallback)
            && t.p >= env.cfg.answer_threshold
    })
}

/// Rule 6b: A short follow-up that names nothing and refers back ("hoe lang duurt het?",
/// "kan dat ook online?", "what does it cost?"), when the message alone finds no confident
/// answer: what it is about is the topic, so it is read among the topic's entries only
/// (those of the topic-aware reading's best five), answered when one of them is clearly the
/// answer there and otherwise asked about among them. The intent head often reads such a
/// message as out of scope: it says nothing a municipality does.
fn refers_back_to_topic(
    turn: &Turn<'_>,
    ctx: &mut Context,
    env: &Env<'_>,
    top: &TopIntent<'_>,
) -> Option<Outcome> {
    let within = turn.within_context?;
    if !lang::refers_back(turn.text)
        || confident_answer(turn.understanding, env).is_some()
        || asks_for_person_or_data(within, env, top)
    {
        return None;
    }
    let mut on_topic = within.clone();
    on_topic
        .candidates
        .retain(|c| c.on_topic && env.kb.answers(&c.intent));
    if on_topic.candidates.is_empty()
        || out_of_scope_on_its_own(turn, env, top, |c| {
            on_topic.candidates.iter().any(|t| t.faq_id == c.faq_id)
        })
    {
        return None;
    }
    if let Some(c) = confident_answer_by(&on_topic, env, |_| true) {
        ctx.misses = 0;
        return Some(answer(env, ctx, c.faq_id.clone(), c.confidence, None));
    }
    clarify(&on_topic, ctx, env, top, false)
}

/// Rule 7: Out of scope: the out-of-scope intents are likely enough (from the probability
/// fitted on the content, see [`Understanding::out_of_scope_at`]); counts as a miss.
fn out_of_scope(
    turn: &Turn<'_>,
    ctx: &mut Context,
    env: &Env<'_>,
    top: &TopIntent<'_>,
) -> Option<Outcome> {
    let u = turn.understanding;
    // On the conversation's topic: out of scope when it is likely given the topic too.
    let (oos, at) = match turn.within_context.filter(|_| on_topic(turn, env)) {
        Some(w) => (
            w.out_of_scope,
            u.out_of_scope_at.max(env.cfg.answer_threshold),
        ),
        None => (u.out_of_scope, u.out_of_scope_at),
    };
    if !(top.leads_to(Action::Fallback, env.cfg.answer_threshold) || (oos > 0.0 && oos >= at)) {
        return None;
    }
    // The likeliest out-of-scope intent is the one recorded.
    let named = u
        .intents
        .iter()
        .find(|i| env.kb.intent(&i.intent).map(|x| x.action) == Some(Action::Fallback));
    let (name, p) = named.map_or((top.name, top.p), |i| (i.intent.as_str(), i.probability));
    Some(miss(env, ctx, env.text(TextKey::Fallback), Some(name), p))
}

/// Rule 8: Answer when confident, clarify between plausible entries, or else a miss.
fn answer_clarify_or_miss(
    turn: &Turn<'_>,
    ctx: &mut Context,
    env: &Env<'_>,
    top: &TopIntent<'_>,
) -> Outcome {
    let u = turn.understanding;
    if let Some(c) = confident_answer(u, env) {
        ctx.misses = 0;
        let prefix = turn.greeted.then(|| env.text(TextKey::GreetingPrefix));
        return answer(env, ctx, c.faq_id.clone(), c.confidence, prefix);
    }
    // The options offered are the likeliest entries given the conversation so far.
    // A weak lean to out of scope does not stop a question on the conversation's topic.
    let leans_out = top.action == Some(Action::Fallback)
        && (top.p >= env.cfg.answer_threshold || !on_topic(turn, env));
    if let Some(out) = clarify(turn.within_context.unwrap_or(u), ctx, env, top, leans_out) {
        return out;
    }
    let text = if top.action == Some(Action::Fallback) {
        env.text(TextKey::Fallback)
    } else {
        env.text(TextKey::NotUnderstood)
    };
    miss(
        env,
        ctx,
        text,
        Some(top.name).filter(|s| !s.is_empty()),
        top.p,
    )
}

/// Rule 8, clarifying: plausible answerable entries that are not certain enough are
/// offered to choose from, unless the message `leans_out` of scope.
fn clarify(
    u: &Understanding,
    ctx: &mut Context,
    env: &Env<'_>,
    top: &TopIntent<'_>,
    leans_out: bool,
) -> Option<Outcome> {
    let cands: Vec<&Candidate> = u
        .candidates
        .iter()
        .filter(|c| env.kb.answers(&c.intent))
        .collect();
    let options: Vec<&Candidate> = cands
        .iter()
        .copied()
        .filter(|c| c.confidence >= env.cfg.clarify_threshold / 3.0)
        .take(MAX_OPTIONS)
        .collect();
    let best = cands.first().map(|c| c.confidence).unwrap_or(0.0);
    let worth_asking = !options.is_empty()
        && (best >= env.cfg.clarify_threshold || top.p >= env.cfg.clarify_threshold)
        && !leans_out;
    if !worth_asking {
        return None;
    }
    ctx.misses = 0;
    if let [c] = options[..] {
        return Some(clarify_one(c, ctx, env));
    }
    let opts: Vec<ReplyOption> = options.iter().map(|c| option_for(c, env.kb)).collect();
    let mut text = env.text(TextKey::Clarify);
    for (i, c) in options.iter().enumerate() {
        text.push_str(&format!("\n{}. {}", i + 1, c.title));
    }
    ctx.options = opts.clone();
    let mut out = reply(
        ctx,
        text,
        Action::Clarify,
        Some(top.name.to_string()),
        best,
        None,
    );
    out.reply.options = opts;
    Some(out)
}

/// One plausible answer that is not certain enough: offer it as a yes/no question.
fn clarify_one(c: &Candidate, ctx: &mut Context, env: &Env<'_>) -> Outcome {
    ctx.options = vec![option_for(c, env.kb)];
    let text = env.text(TextKey::ClarifyOne).replace("{title}", &c.title);
    let opts = ctx.options.clone();
    let mut out = reply(
        ctx,
        text,
        Action::Clarify,
        Some(c.intent.clone()),
        c.confidence,
        None,
    );
    out.reply.options = opts;
    out
}

/// The best candidate when it is confidently the answer: confident itself, its intent
/// plausible, and clearly ahead of the runner-up.
fn confident_answer<'u>(u: &'u Understanding, env: &Env<'_>) -> Option<&'u Candidate> {
    confident_answer_by(u, env, |c| u.support(c) >= env.cfg.clarify_threshold)
}

/// [`confident_answer`] with the intent's support judged by `supported`.
fn confident_answer_by<'u>(
    u: &'u Understanding,
    env: &Env<'_>,
    supported: impl Fn(&Candidate) -> bool,
) -> Option<&'u Candidate> {
    let mut answerable = u.candidates.iter().filter(|c| env.kb.answers(&c.intent));
    let best = answerable.next()?;
    let runner_up = answerable.next().map(|c| c.confidence).unwrap_or(0.0);
    let threshold = env.cfg.entry_threshold.unwrap_or_else(|| u.answer_at(best));
    (best.confidence >= threshold
        && supported(best)
        && best.confidence - runner_up >= env.cfg.clarify_margin)
        .then_some(best)
}

/// The best candidate that `include` takes and its share of the confidence of all it takes.
fn share_among(
    u: &Understanding,
    include: impl Fn(&Candidate) -> bool,
) -> Option<(&Candidate, f32)> {
    let taken: Vec<&Candidate> = u.candidates.iter().filter(|c| include(c)).collect();
    let total: f32 = taken.iter().map(|c| c.confidence).sum();
    let best = *taken.first()?;
    (total > 0.0).then(|| (best, best.confidence / total))
}

fn option_for(c: &Candidate, kb: &KnowledgeBase) -> ReplyOption {
    let short = kb
        .entry(&c.faq_id)
        .map(|e| e.option_title(OPTION_TITLE_MAX))
        .unwrap_or_else(|| shorten(&c.title, OPTION_TITLE_MAX));
    ReplyOption {
        id: c.faq_id.clone(),
        description: if short != c.title {
            shorten(&c.title, OPTION_DESCRIPTION_MAX)
        } else {
            String::new()
        },
        title: short,
    }
}

/// Which offered option a message picks: a button id, its number, or its title.
fn pick<'o>(turn: &Turn<'_>, options: &'o [ReplyOption]) -> Option<&'o ReplyOption> {
    if let Some(id) = turn.button_id {
        return options.iter().find(|o| o.id == id);
    }
    let t = turn
        .text
        .trim()
        .trim_end_matches(['.', ')', '!'])
        .to_lowercase();
    if let Ok(n) = t.parse::<usize>() {
        return options.get(n.checked_sub(1)?);
    }
    if lang::yes_no(&t) == Some(true) {
        return options.first();
    }
    let words = |s: &str| s.to_lowercase();
    options.iter().find(|o| {
        words(&o.title) == t
            || words(&o.description) == t
            || (t.len() >= 4 && words(&o.title).contains(&t))
    })
}

fn answer_text(env: &Env<'_>, entry: &crate::knowledge::Entry) -> String {
    match (env.lang, &entry.answer_en) {
        (Lang::En, Some(en)) => en.trim().to_string(),
        (Lang::En, None) => format!("{}{}", env.text(TextKey::AnswerOnlyDutch), entry.answer),
        (Lang::Nl, _) => entry.answer.clone(),
    }
}

fn answer(
    env: &Env<'_>,
    ctx: &mut Context,
    faq_id: String,
    confidence: f32,
    prefix: Option<String>,
) -> Outcome {
    let entry = env
        .kb
        .entry(&faq_id)
        .expect("answers come from the knowledge base");
    let text = format!("{}{}", prefix.unwrap_or_default(), answer_text(env, entry));
    ctx.last_intent = Some(entry.intent.clone()).filter(|i| !i.is_empty());
    ctx.last_faq = Some(faq_id.clone());
    reply(
        ctx,
        text,
        Action::Answer,
        Some(entry.intent.clone()),
        confidence,
        Some(faq_id),
    )
}

fn miss(
    env: &Env<'_>,
    ctx: &mut Context,
    text: String,
    intent: Option<&str>,
    confidence: f32,
) -> Outcome {
    ctx.misses += 1;
    if ctx.misses >= env.cfg.misses_before_handoff {
        ctx.misses = 0;
        let dept = ctx
            .last_intent
            .as_deref()
            .map(|i| env.kb.department_for_intent(i).to_string())
            .unwrap_or_else(|| crate::knowledge::DEFAULT_DEPARTMENT.to_string());
        return handoff(
            env,
            ctx,
            env.text(TextKey::HandoffAfterMisses),
            &dept,
            "misses",
            intent.map(|i| (i, confidence)),
        );
    }
    reply(
        ctx,
        text,
        Action::Fallback,
        intent.map(str::to_string),
        confidence,
        None,
    )
}

fn handoff(
    env: &Env<'_>,
    ctx: &mut Context,
    prefix: String,
    department: &str,
    reason: &str,
    intent: Option<(&str, f32)>,
) -> Outcome {
    let settings = &env.kb.settings;
    let dept_name = settings
        .department(department)
        .map(|d| d.name.clone())
        .unwrap_or_else(|| department.to_string());
    let body = if reason == "urgent" {
        String::new()
    } else if settings.hours.is_open(env.now) {
        env.text(TextKey::HandoffOpen)
            .replace("{department}", &dept_name)
            .replace("{minutes}", &settings.response_time_minutes.to_string())
    } else {
        let when = env.kb.texts.describe_opening(
            &settings.hours.next_opening_phrase(env.now),
            settings.tone,
            env.lang,
        );
        let reason_text = match settings.hours.closed_reason(env.now) {
            Some(hours::ClosedReason::Holiday(h)) => {
                let name = match env.lang {
                    Lang::Nl => h.dutch_name(),
                    Lang::En => h.english_name(),
                };
                env.text(TextKey::ClosedHoliday).replace("{holiday}", name)
            }
            _ => String::new(),
        };
        env.text(TextKey::HandoffClosed)
            .replace("{department}", &dept_name)
            .replace("{when}", &when)
            .replace("{reason}", &reason_text)
    };
    let (intent, confidence) = intent
        .map(|(i, p)| (Some(i.to_string()), p))
        .unwrap_or((None, 1.0));
    let mut out = reply(
        ctx,
        format!("{prefix}{body}"),
        Action::Handoff,
        intent,
        confidence,
        None,
    );
    out.handoff = Some(HandoffRequest {
        department: department.to_string(),
        reason: reason.to_string(),
    });
    out
}

fn reply(
    _ctx: &mut Context,
    text: String,
    action: Action,
    intent: Option<String>,
    confidence: f32,
    faq_id: Option<String>,
) -> Outcome {
    Outcome {
        reply: Reply {
            text,
            options: Vec::new(),
            action,
            intent,
            confidence: confidence.clamp(0.0, 1.0),
            faq_id,
        },
        context: Context::default(),
        handoff: None,
    }
}

/// A department the citizen names ("ik wil iemand van belastingen spreken").
fn named_department(text: &str, kb: &KnowledgeBase) -> Option<String> {
    let t = text.to_lowercase();
    kb.settings
        .departments
        .iter()
        .find(|d| {
            d.id != crate::knowledge::DEFAULT_DEPARTMENT
                && (t.contains(&d.name.to_lowercase()) || t.contains(&d.id.replace('_', " ")))
        })
        .map(|d| d.id.clone())
}

pub use crate::text::shorten;

/// Every reply fits one WhatsApp message.
fn fit_whatsapp(text: &str) -> String {
    if text.chars().count() <= WHATSAPP_MAX_CHARS {
        return text.to_string();
    }
    shorten(text, WHATSAPP_MAX_CHARS)
}

#[cfg(test)]
mod tests;
