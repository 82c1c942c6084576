//! Reports for content editors and team leads: what citizens asked, how the bot did, how fast
//! people answered after a handoff, and which questions the bot could not answer.
//!
//! Everything is computed over the conversations *created* in a period of local dates
//! (Europe/Amsterdam) and all of their messages and handoffs. The store fetches the rows
//! ([`crate::store::reports`], plain SQL that runs unchanged on SQLite and PostgreSQL) and
//! they are aggregated here in Rust, so both databases share one code path.
//!
//! Every share is a [`Ratio`] with its numerator and denominator, so a reader can check it.
//!
//! # Definitions
//! - *Citizen message*: a message row with `direction = 'in'` and `sender = 'citizen'`.
//! - *Bot decision*: a citizen message the bot decided on, i.e. with an `action` other than
//!   `agent` (messages written to an agent who owns the conversation are not bot decisions).
//!   The clarify, handoff, fallback and privacy-redirect rates are shares of bot decisions.
//! - *Answered in one go*: see [`Summary::answered_in_one_go`].
//! - *Percentiles* are nearest-rank: the p-th percentile of n sorted values is the value at
//!   rank ⌈p/100 · n⌉ (1-based), so it is always one of the observed values; the median is
//!   the 50th percentile (for an even count, the lower of the two middle values).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::knowledge::settings::DEFAULT_DEPARTMENT;
use crate::store::{Channel, Direction, HandoffStatus, Sender, SqlStore, StoreError, timestamp};

mod csv;
mod unanswered;

pub use csv::{excel, summary_csv, unanswered_csv};
pub use unanswered::{
    Grouping, Item, MAX_MESSAGES, Unanswered, UnansweredError, UnansweredGroup,
    group_by_similarity, groups_of, unanswered, unanswered_items,
};

/// Local dates are Dutch dates.
pub const TIME_ZONE: Tz = chrono_tz::Europe::Amsterdam;

/// Top lists (intents, FAQ entries) have at most this many rows.
pub const TOP_N: usize = 10;

/// What to report on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportQuery {
    /// First local date (inclusive).
    pub from: NaiveDate,
    /// Last local date (inclusive).
    pub to: NaiveDate,
    /// `web` or `whatsapp`; `None` for all channels.
    pub channel: Option<String>,
    /// A department id (`burgerzaken`), compared case-insensitively; a conversation without a
    /// department belongs to the default one (`kcc`). `None` for all departments.
    pub department: Option<String>,
    /// The municipality reported on (its slug): a report covers one municipality only.
    pub municipality: String,
    /// It is the default municipality (which also owns conversations stored without one).
    pub is_default: bool,
}

impl ReportQuery {
    /// The stored rows' filter for `bounds` (from [`Self::bounds`]).
    pub fn period<'a>(&'a self, bounds: &'a (String, String)) -> crate::store::reports::Period<'a> {
        crate::store::reports::Period {
            start: &bounds.0,
            end: &bounds.1,
            municipality: &self.municipality,
            is_default: self.is_default,
        }
    }

    /// The period as a half-open range of UTC timestamps in the stored text format:
    /// local midnight of `from` up to local midnight of the day after `to`.
    pub fn bounds(&self) -> (String, String) {
        (
            timestamp(local_midnight(self.from)),
            timestamp(local_midnight(self.to + Duration::days(1))),
        )
    }

    fn matches(&self, channel: Channel, department: &str) -> bool {
        self.channel
            .as_deref()
            .is_none_or(|c| c.eq_ignore_ascii_case(channel.as_str()))
            && self
                .department
                .as_deref()
                .is_none_or(|d| d.eq_ignore_ascii_case(department))
    }
}

fn local_midnight(date: NaiveDate) -> DateTime<Utc> {
    let naive = date.and_hms_opt(0, 0, 0).expect("midnight exists");
    // Dutch clocks change at 02:00/03:00, so midnight always exists once.
    TIME_ZONE
        .from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&naive))
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A share with what it is made of. `value` is `numerator / denominator`, `null` when the
/// denominator is 0.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Ratio {
    pub numerator: u64,
    pub denominator: u64,
    pub value: Option<f64>,
}

impl Ratio {
    pub fn new(numerator: u64, denominator: u64) -> Ratio {
        Ratio {
            numerator,
            denominator,
            value: (denominator > 0).then(|| numerator as f64 / denominator as f64),
        }
    }
}

/// Median and 90th percentile (nearest rank) of `count` observations.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Distribution {
    pub count: u64,
    pub median: Option<f64>,
    pub p90: Option<f64>,
}

impl Distribution {
    pub fn of(values: &[f64]) -> Distribution {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        v.sort_by(f64::total_cmp);
        Distribution {
            count: v.len() as u64,
            median: percentile(&v, 50.0),
            p90: percentile(&v, 90.0),
        }
    }
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Counts {
    pub conversations: u64,
    pub citizen_messages: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayCounts {
    /// Local date, `YYYY-MM-DD`.
    pub date: NaiveDate,
    pub conversations: u64,
    pub citizen_messages: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyCounts {
    pub key: String,
    pub conversations: u64,
    pub citizen_messages: u64,
}

/// Counts per hour of the week in local time: `[weekday][hour]`, Monday = 0, hour 0–23.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WeekHours {
    /// Conversations by the hour they started.
    pub conversations: [[u64; 24]; 7],
    /// Citizen messages by the hour they arrived.
    pub citizen_messages: [[u64; 24]; 7],
}

/// One row of a top list: how often, and the share of the list's denominator.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopItem {
    pub key: String,
    pub count: u64,
    pub share: Ratio,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PiiKind {
    pub kind: String,
    pub messages: u64,
}

/// Time from a handoff request to the first reply of a person, in minutes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HumanReply {
    /// Handoffs of the period's conversations.
    pub handoffs: u64,
    /// Of these, requested within office hours.
    pub handoffs_within_office_hours: u64,
    /// Handoffs without a reply from a person (yet).
    pub without_reply: u64,
    /// All handoffs with a reply.
    pub all: Distribution,
    /// Handoffs requested within office hours.
    pub within_office_hours: Distribution,
    /// Handoffs requested outside office hours (answered the next opening day at best).
    pub outside_office_hours: Distribution,
    /// The promise is made for handoffs within office hours only, so this is over those:
    /// numerator = first reply within `promised_minutes`; denominator = those with a reply
    /// plus those still without one that are older than the promise (they missed it).
    /// Released handoffs without a reply (handed back to the bot) and ones still within
    /// their promised time are left out.
    pub within_promise: Ratio,
    pub promised_minutes: i64,
}

/// The figures for one period. See the module documentation for the definitions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub time_zone: &'static str,
    pub channel: Option<String>,
    pub department: Option<String>,
    pub totals: Counts,
    /// Citizen messages the bot decided on (the denominator of the message rates).
    pub bot_decisions: u64,
    /// Every date from `from` to `to` (and any later date a message of the period's
    /// conversations arrived on).
    pub per_day: Vec<DayCounts>,
    pub per_hour_of_week: WeekHours,
    pub per_channel: Vec<KeyCounts>,
    pub per_department: Vec<KeyCounts>,
    /// Conversations the bot answered without help: numerator = conversations with at least
    /// one bot decision `answer`, no handoff (no handoff row and no decision `handoff`), no
    /// decision `fallback`, and no repeated question (no intent answered twice, i.e. two
    /// citizen messages with decision `answer` and the same intent); denominator = all
    /// conversations. A clarifying question followed by an answer still counts as one go;
    /// a conversation of greetings or privacy redirects only does not (nothing was answered).
    pub answered_in_one_go: Ratio,
    /// Conversations with a handoff (a handoff row or a decision `handoff`) / conversations.
    pub conversations_handed_off: Ratio,
    /// Decisions `clarify` / bot decisions.
    pub clarify_rate: Ratio,
    /// Decisions `handoff` / bot decisions.
    pub handoff_rate: Ratio,
    /// Decisions `fallback` (not understood) / bot decisions.
    pub fallback_rate: Ratio,
    /// Decisions `privacy_redirect` / bot decisions.
    pub privacy_redirects: Ratio,
    /// Citizen messages from which personal data was removed / citizen messages.
    pub pii_removed: Ratio,
    /// Per kind of personal data (`bsn`, `iban`, …), most frequent first.
    pub pii_kinds: Vec<PiiKind>,
    /// `response_ms` of the bot's replies, in milliseconds.
    pub bot_response_ms: Distribution,
    pub first_human_reply_minutes: HumanReply,
    /// Intents of bot decisions, except `smalltalk` (greetings and thanks are not questions)
    /// and `fallback` (the intent is a guess the bot did not trust); share of those bot
    /// decisions that have an intent.
    pub top_intents: Vec<TopItem>,
    /// FAQ entries the bot answered with; share of bot replies with an FAQ entry.
    pub top_faqs: Vec<TopItem>,
}

struct Conversation {
    channel: Channel,
    department: String,
    created_at: DateTime<Utc>,
}

struct Message {
    conversation_id: String,
    direction: Direction,
    sender: Sender,
    pii: String,
    intent: Option<String>,
    action: Option<String>,
    faq_id: Option<String>,
    response_ms: Option<i64>,
    created_at: DateTime<Utc>,
}

struct Handoff {
    conversation_id: String,
    status: HandoffStatus,
    created_at: DateTime<Utc>,
    first_reply_at: Option<DateTime<Utc>>,
    within_office_hours: bool,
}

/// The conversations of the period that match the query, by id.
async fn conversations(
    store: &SqlStore,
    q: &ReportQuery,
) -> Result<HashMap<String, Conversation>, StoreError> {
    let bounds = q.bounds();
    let rows = store.report_conversations(&q.period(&bounds)).await?;
    let mut out = HashMap::new();
    for r in rows {
        let department = r
            .department
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| DEFAULT_DEPARTMENT.to_string())
            .to_lowercase();
        let Some(created_at) = parse_time(&r.created_at) else {
            continue;
        };
        if q.matches(r.channel, &department) {
            out.insert(
                r.id,
                Conversation {
                    channel: r.channel,
                    department,
                    created_at,
                },
            );
        }
    }
    Ok(out)
}

async fn messages(store: &SqlStore, q: &ReportQuery) -> Result<Vec<Message>, StoreError> {
    let bounds = q.bounds();
    let rows = store.report_messages(&q.period(&bounds)).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let Some(created_at) = parse_time(&r.created_at) else {
            continue;
        };
        out.push(Message {
            conversation_id: r.conversation_id,
            direction: r.direction,
            sender: r.sender,
            pii: r.pii,
            intent: r.intent,
            action: r.action,
            faq_id: r.faq_id,
            response_ms: r.response_ms,
            created_at,
        });
    }
    Ok(out)
}

async fn handoffs(store: &SqlStore, q: &ReportQuery) -> Result<Vec<Handoff>, StoreError> {
    let bounds = q.bounds();
    let rows = store.report_handoffs(&q.period(&bounds)).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let Some(created_at) = parse_time(&r.created_at) else {
            continue;
        };
        out.push(Handoff {
            conversation_id: r.conversation_id,
            status: r.status,
            created_at,
            first_reply_at: r.first_reply_at.as_deref().and_then(parse_time),
            within_office_hours: r.within_office_hours != 0,
        });
    }
    Ok(out)
}

fn is_citizen(m: &Message) -> bool {
    m.direction == Direction::In && m.sender == Sender::Citizen
}

fn is_bot_decision(m: &Message) -> bool {
    is_citizen(m) && m.action.as_deref().is_some_and(|a| a != "agent")
}

fn is_bot_reply(m: &Message) -> bool {
    m.direction == Direction::Out && m.sender == Sender::Bot
}

/// Computes the figures for a period (see [`Summary`]). `promised_minutes` is the time a
/// citizen is promised for a person's first reply after a handoff within office hours.
pub async fn summary(
    store: &SqlStore,
    q: &ReportQuery,
    promised_minutes: i64,
) -> Result<Summary, StoreError> {
    summary_at(store, q, promised_minutes, Utc::now()).await
}

/// [`summary`] as seen at `now` (which decides whether an unanswered handoff already missed
/// its promise).
pub async fn summary_at(
    store: &SqlStore,
    q: &ReportQuery,
    promised_minutes: i64,
    now: DateTime<Utc>,
) -> Result<Summary, StoreError> {
    let convs = conversations(store, q).await?;
    let msgs: Vec<Message> = messages(store, q)
        .await?
        .into_iter()
        .filter(|m| convs.contains_key(&m.conversation_id))
        .collect();
    let hands: Vec<Handoff> = handoffs(store, q)
        .await?
        .into_iter()
        .filter(|h| convs.contains_key(&h.conversation_id))
        .collect();
    Ok(aggregate(q, &convs, &msgs, &hands, promised_minutes, now))
}

fn local(t: DateTime<Utc>) -> DateTime<Tz> {
    t.with_timezone(&TIME_ZONE)
}

fn top(counts: HashMap<String, u64>, denominator: u64) -> Vec<TopItem> {
    let mut v: Vec<(String, u64)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.into_iter()
        .take(TOP_N)
        .map(|(key, count)| TopItem {
            key,
            count,
            share: Ratio::new(count, denominator),
        })
        .collect()
}

fn aggregate(
    q: &ReportQuery,
    convs: &HashMap<String, Conversation>,
    msgs: &[Message],
    hands: &[Handoff],
    promised_minutes: i64,
    now: DateTime<Utc>,
) -> Summary {
    let mut volume = Volume::new(q);
    for c in convs.values() {
        volume.add_conversation(c);
    }
    let mut replies = BotReplies::default();
    let mut pii = PiiTally::default();
    let mut decisions = Decisions::default();
    for m in msgs {
        let conv = &convs[&m.conversation_id];
        if is_bot_reply(m) {
            replies.add(m);
        } else if is_citizen(m) {
            volume.add_citizen_message(m, conv);
            pii.add(m);
            if is_bot_decision(m) {
                decisions.add(m);
            }
        }
    }
    let handed_off = decisions.handed_off(hands);
    let one_go = decisions.answered_in_one_go(&handed_off);
    let bot_decisions = decisions.bot_decisions;
    let count = |a: &str| decisions.actions.get(a).copied().unwrap_or(0);
    let Volume {
        totals,
        days,
        week,
        channels,
        departments,
    } = volume;

    Summary {
        from: q.from,
        to: q.to,
        time_zone: TIME_ZONE.name(),
        channel: q.channel.clone(),
        department: q.department.clone(),
        bot_decisions,
        per_day: days
            .into_iter()
            .map(|(date, (conversations, citizen_messages))| DayCounts {
                date,
                conversations,
                citizen_messages,
            })
            .collect(),
        per_hour_of_week: week,
        per_channel: by_conversations(channels),
        per_department: by_conversations(departments),
        answered_in_one_go: Ratio::new(one_go, totals.conversations),
        conversations_handed_off: Ratio::new(handed_off.len() as u64, totals.conversations),
        clarify_rate: Ratio::new(count("clarify"), bot_decisions),
        handoff_rate: Ratio::new(count("handoff"), bot_decisions),
        fallback_rate: Ratio::new(count("fallback"), bot_decisions),
        privacy_redirects: Ratio::new(count("privacy_redirect"), bot_decisions),
        pii_removed: Ratio::new(pii.messages, totals.citizen_messages),
        pii_kinds: pii.kinds_by_frequency(),
        bot_response_ms: Distribution::of(&replies.response_ms),
        first_human_reply_minutes: human_reply(hands, promised_minutes, now),
        top_intents: top(decisions.intents, decisions.intent_total),
        top_faqs: top(replies.faqs, replies.faq_total),
        totals,
    }
}

/// Conversations and citizen messages (in that order in each pair), in total and by local
/// date, hour of the week, channel and department.
struct Volume {
    totals: Counts,
    days: BTreeMap<NaiveDate, (u64, u64)>,
    week: WeekHours,
    channels: BTreeMap<String, (u64, u64)>,
    departments: BTreeMap<String, (u64, u64)>,
}

impl Volume {
    /// Starts with every date of the period at zero, so a quiet day still shows in the report.
    fn new(q: &ReportQuery) -> Volume {
        let mut days = BTreeMap::new();
        let mut d = q.from;
        while d <= q.to {
            days.insert(d, (0, 0));
            d += Duration::days(1);
        }
        Volume {
            totals: Counts::default(),
            days,
            week: WeekHours::default(),
            channels: BTreeMap::new(),
            departments: BTreeMap::new(),
        }
    }

    fn add_conversation(&mut self, c: &Conversation) {
        self.totals.conversations += 1;
        let t = local(c.created_at);
        self.days.entry(t.date_naive()).or_default().0 += 1;
        self.week.conversations[t.weekday().num_days_from_monday() as usize][t.hour() as usize] +=
            1;
        self.channels.entry(c.channel.to_string()).or_default().0 += 1;
        self.departments.entry(c.department.clone()).or_default().0 += 1;
    }

    /// Counts a citizen message under its own time and its conversation's channel and
    /// department.
    fn add_citizen_message(&mut self, m: &Message, conv: &Conversation) {
        self.totals.citizen_messages += 1;
        let t = local(m.created_at);
        self.days.entry(t.date_naive()).or_default().1 += 1;
        self.week.citizen_messages[t.weekday().num_days_from_monday() as usize]
            [t.hour() as usize] += 1;
        self.channels.entry(conv.channel.to_string()).or_default().1 += 1;
        self.departments
            .entry(conv.department.clone())
            .or_default()
            .1 += 1;
    }
}

/// What the bot's own replies tell: how fast it was and which FAQ entries it answered with.
#[derive(Default)]
struct BotReplies {
    response_ms: Vec<f64>,
    faqs: HashMap<String, u64>,
    faq_total: u64,
}

impl BotReplies {
    fn add(&mut self, m: &Message) {
        if let Some(ms) = m.response_ms {
            self.response_ms.push(ms as f64);
        }
        if let Some(faq) = m.faq_id.as_deref().filter(|f| !f.is_empty()) {
            *self.faqs.entry(faq.to_string()).or_default() += 1;
            self.faq_total += 1;
        }
    }
}

/// Citizen messages from which personal data was removed, and how often each kind was.
#[derive(Default)]
struct PiiTally {
    messages: u64,
    kinds: HashMap<String, u64>,
}

impl PiiTally {
    fn add(&mut self, m: &Message) {
        let kinds: Vec<&str> = m
            .pii
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .collect();
        if !kinds.is_empty() {
            self.messages += 1;
            // A kind found twice in one message counts once: the figure is messages.
            for k in kinds.into_iter().collect::<HashSet<_>>() {
                *self.kinds.entry(k.to_string()).or_default() += 1;
            }
        }
    }

    /// Most frequent first; equal counts by name, so the order is stable.
    fn kinds_by_frequency(self) -> Vec<PiiKind> {
        let mut kinds: Vec<PiiKind> = self
            .kinds
            .into_iter()
            .map(|(kind, messages)| PiiKind { kind, messages })
            .collect();
        kinds.sort_by(|a, b| {
            b.messages
                .cmp(&a.messages)
                .then_with(|| a.kind.cmp(&b.kind))
        });
        kinds
    }
}

/// Per conversation: answered at all, fallback, handoff decision, answers per intent.
#[derive(Default)]
struct Flags {
    answered: bool,
    fallback: bool,
    handoff: bool,
    repeated: bool,
    answered_intents: HashSet<String>,
}

/// The bot's decisions on citizen messages: how many, of which action and intent, and what
/// they say about each conversation.
#[derive(Default)]
struct Decisions<'a> {
    bot_decisions: u64,
    actions: HashMap<&'a str, u64>,
    intents: HashMap<String, u64>,
    intent_total: u64,
    flags: HashMap<&'a str, Flags>,
}

impl<'a> Decisions<'a> {
    fn add(&mut self, m: &'a Message) {
        self.bot_decisions += 1;
        let action = m.action.as_deref().unwrap_or_default();
        *self.actions.entry(action).or_default() += 1;
        if action != "smalltalk"
            && action != "fallback"
            && let Some(intent) = m.intent.as_deref().filter(|i| !i.is_empty())
        {
            *self.intents.entry(intent.to_string()).or_default() += 1;
            self.intent_total += 1;
        }
        let f = self.flags.entry(m.conversation_id.as_str()).or_default();
        match action {
            "answer" => {
                f.answered = true;
                if let Some(intent) = m.intent.as_deref()
                    && !f.answered_intents.insert(intent.to_string())
                {
                    f.repeated = true;
                }
            }
            "fallback" => f.fallback = true,
            "handoff" => f.handoff = true,
            _ => {}
        }
    }

    /// The conversations with a handoff row or a decision `handoff`.
    fn handed_off<'h>(&self, hands: &'h [Handoff]) -> HashSet<&'h str>
    where
        'a: 'h,
    {
        hands
            .iter()
            .map(|h| h.conversation_id.as_str())
            .chain(
                self.flags
                    .iter()
                    .filter(|(_, f)| f.handoff)
                    .map(|(id, _)| *id),
            )
            .collect()
    }

    /// See [`Summary::answered_in_one_go`].
    fn answered_in_one_go(&self, handed_off: &HashSet<&str>) -> u64 {
        self.flags
            .iter()
            .filter(|(id, f)| f.answered && !f.fallback && !f.repeated && !handed_off.contains(*id))
            .count() as u64
    }
}

/// The first human reply after a handoff: how long it took, split by office hours, and how
/// often the promise was kept as seen at `now`.
fn human_reply(hands: &[Handoff], promised_minutes: i64, now: DateTime<Utc>) -> HumanReply {
    let minutes = |h: &Handoff| {
        h.first_reply_at
            .map(|r| (r - h.created_at).num_milliseconds() as f64 / 60_000.0)
    };
    let all: Vec<f64> = hands.iter().filter_map(minutes).collect();
    let within: Vec<f64> = hands
        .iter()
        .filter(|h| h.within_office_hours)
        .filter_map(minutes)
        .collect();
    let outside: Vec<f64> = hands
        .iter()
        .filter(|h| !h.within_office_hours)
        .filter_map(minutes)
        .collect();
    let promised = Duration::minutes(promised_minutes);
    let mut kept = 0u64;
    let mut judged = 0u64;
    for h in hands.iter().filter(|h| h.within_office_hours) {
        match h.first_reply_at {
            Some(r) => {
                judged += 1;
                if r - h.created_at <= promised {
                    kept += 1;
                }
            }
            // Still waiting past the promise: already missed. Handed back to the bot, or
            // still within the promise: not judged (yet).
            None if h.status != HandoffStatus::Released && now - h.created_at > promised => {
                judged += 1
            }
            None => {}
        }
    }
    HumanReply {
        handoffs: hands.len() as u64,
        handoffs_within_office_hours: hands.iter().filter(|h| h.within_office_hours).count() as u64,
        without_reply: hands.iter().filter(|h| h.first_reply_at.is_none()).count() as u64,
        all: Distribution::of(&all),
        within_office_hours: Distribution::of(&within),
        outside_office_hours: Distribution::of(&outside),
        within_promise: Ratio::new(kept, judged),
        promised_minutes,
    }
}

/// Rows per key, most conversations first; equal counts by key, so the order is stable.
fn by_conversations(m: BTreeMap<String, (u64, u64)>) -> Vec<KeyCounts> {
    let mut v: Vec<KeyCounts> = m
        .into_iter()
        .map(|(key, (conversations, citizen_messages))| KeyCounts {
            key,
            conversations,
            citizen_messages,
        })
        .collect();
    v.sort_by(|a, b| {
        b.conversations
            .cmp(&a.conversations)
            .then_with(|| a.key.cmp(&b.key))
    });
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
        assert_eq!(percentile(&v, 50.0), Some(5.0));
        assert_eq!(percentile(&v, 90.0), Some(9.0));
        assert_eq!(percentile(&[7.0], 90.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
        let d = Distribution::of(&[30.0, 180.0]);
        assert_eq!((d.count, d.median, d.p90), (2, Some(30.0), Some(180.0)));
    }

    #[test]
    fn the_period_is_local_midnight_to_local_midnight() {
        let q = ReportQuery {
            from: NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(),
            to: NaiveDate::from_ymd_opt(2026, 11, 8).unwrap(),
            channel: None,
            department: None,
            municipality: String::new(),
            is_default: true,
        };
        // CET (UTC+1) in November.
        assert_eq!(
            q.bounds(),
            (
                "2026-11-01T23:00:00.000Z".to_string(),
                "2026-11-08T23:00:00.000Z".to_string()
            )
        );
        // CEST (UTC+2) in summer.
        let summer = ReportQuery {
            from: NaiveDate::from_ymd_opt(2026, 7, 1).unwrap(),
            to: NaiveDate::from_ymd_opt(2026, 7, 1).unwrap(),
            ..q
        };
        assert_eq!(summer.bounds().0, "2026-06-30T22:00:00.000Z");
    }

    #[test]
    fn ratios_carry_their_parts() {
        assert_eq!(Ratio::new(1, 4).value, Some(0.25));
        assert_eq!(Ratio::new(0, 0).value, None);
    }
}
