//! `GET /v1/reports/summary` and `GET /v1/reports/unanswered` (scope `editor`): the figures
//! of a period and the groups of unanswered questions, as JSON, (`format=csv`) CSV, or
//! (`format=excel`) CSV that Dutch Excel opens in columns.
//!
//! Parameters: `from` and `to` (local dates `YYYY-MM-DD`, inclusive; default the last 30
//! days up to today), `channel` (`web` or `whatsapp`), `department` (id or name, any case),
//! `format` (`json`, `csv` or `excel`) and, for `unanswered`, `limit` (groups, default 50).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use crate::content::Municipality;
use crate::knowledge::settings::Department;
use crate::reports::{self, Grouping, ReportQuery, Summary, TIME_ZONE};
use crate::store::keys::Scope;

/// Longest period a report may cover.
pub const MAX_DAYS: i64 = 366;
/// Default period: this many days up to and including today.
pub const DEFAULT_DAYS: i64 = 30;

#[derive(Debug, Default, Deserialize)]
pub struct ReportParams {
    pub from: Option<String>,
    pub to: Option<String>,
    pub channel: Option<String>,
    pub department: Option<String>,
    pub format: Option<String>,
    pub limit: Option<String>,
    /// The municipality's slug (default: the key's only one, else the default one).
    pub municipality: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
    /// CSV for Dutch Excel: byte-order mark, `;`, decimal comma.
    Excel,
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn date(name: &str, value: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| {
        ApiError::Invalid(format!(
            "`{name}` must be a date as YYYY-MM-DD (e.g. 2026-11-01), not \"{value}\""
        ))
    })
}

/// The query a request asks for, validated against the municipality's departments.
fn report_query(
    p: &ReportParams,
    departments: &[Department],
    today: NaiveDate,
) -> Result<(ReportQuery, Format), ApiError> {
    let to = match non_empty(&p.to) {
        Some(v) => date("to", v)?,
        None => today,
    };
    let from = match non_empty(&p.from) {
        Some(v) => date("from", v)?,
        None => to - Duration::days(DEFAULT_DAYS - 1),
    };
    if from > to {
        return Err(ApiError::Invalid(format!(
            "`from` ({from}) is after `to` ({to}); the period runs from `from` to `to`, both included"
        )));
    }
    if (to - from).num_days() + 1 > MAX_DAYS {
        return Err(ApiError::Invalid(format!(
            "the period from {from} to {to} is longer than {MAX_DAYS} days"
        )));
    }
    let channel = match non_empty(&p.channel).map(str::to_lowercase) {
        None => None,
        Some(c) if c == "web" || c == "whatsapp" => Some(c),
        Some(c) => {
            return Err(ApiError::Invalid(format!(
                "unknown channel \"{c}\": use web or whatsapp"
            )));
        }
    };
    let department = match non_empty(&p.department) {
        None => None,
        Some(d) => Some(
            departments
                .iter()
                .find(|x| x.id.eq_ignore_ascii_case(d) || x.name.eq_ignore_ascii_case(d))
                .map(|x| x.id.clone())
                .ok_or_else(|| {
                    ApiError::Invalid(format!(
                        "unknown department \"{d}\": use one of {}",
                        departments
                            .iter()
                            .map(|x| x.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?,
        ),
    };
    let format = match non_empty(&p.format).map(str::to_lowercase).as_deref() {
        None | Some("json") => Format::Json,
        Some("csv") => Format::Csv,
        Some("excel") => Format::Excel,
        Some(other) => {
            return Err(ApiError::Invalid(format!(
                "unknown format \"{other}\": use json, csv or excel"
            )));
        }
    };
    Ok((
        ReportQuery {
            from,
            to,
            channel,
            department,
            municipality: String::new(),
            is_default: true,
        },
        format,
    ))
}

fn today() -> NaiveDate {
    Utc::now().with_timezone(&TIME_ZONE).date_naive()
}

fn csv_response(name: &str, q: &ReportQuery, body: String) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"loket-{name}-{}-{}.csv\"",
        q.from, q.to
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn json_response<T: Serialize>(body: T) -> Response {
    let mut resp = Json(body).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The summary with what the dashboard needs to offer filters.
#[derive(Serialize)]
struct SummaryResponse<'a> {
    #[serde(flatten)]
    summary: &'a Summary,
    municipality: &'a str,
    departments: &'a [Department],
}

/// An editor's report request, checked: its parameters, the query they ask for, the
/// format and the municipality reported on (one the key serves).
fn editor_request(
    state: &AppState,
    caller: &Caller,
    q: Result<Query<ReportParams>, QueryRejection>,
) -> Result<(ReportParams, ReportQuery, Format, Municipality), ApiError> {
    caller.require(Scope::Editor)?;
    let Query(p) =
        q.map_err(|e| ApiError::BadRequest(format!("invalid query string: {}", e.body_text())))?;
    let place = caller.municipality(state, non_empty(&p.municipality))?;
    let snap = place.content.snapshot();
    let (mut query, format) = report_query(&p, &snap.kb.settings.departments, today())?;
    query.municipality = place.slug.clone();
    query.is_default = place.slug == state.parts.municipalities.default().slug;
    Ok((p, query, format, place))
}

/// A report in the format asked for, as `loket-{name}-{from}-{to}.csv` for CSV; `csv` is
/// only built for CSV.
fn report_response(
    format: Format,
    name: &str,
    q: &ReportQuery,
    csv: impl FnOnce() -> String,
    json: impl Serialize,
) -> Response {
    match format {
        Format::Csv => csv_response(name, q, csv()),
        Format::Excel => csv_response(name, q, reports::excel(&csv())),
        Format::Json => json_response(json),
    }
}

pub async fn summary(
    State(state): State<AppState>,
    caller: Caller,
    q: Result<Query<ReportParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (_, query, format, place) = editor_request(&state, &caller, q)?;
    let snap = place.content.snapshot();
    let settings = &snap.kb.settings;
    let summary = reports::summary(
        &state.parts.store,
        &query,
        settings.response_time_minutes as i64,
    )
    .await?;
    Ok(report_response(
        format,
        "samenvatting",
        &query,
        || reports::summary_csv(&summary),
        SummaryResponse {
            summary: &summary,
            municipality: &settings.name,
            departments: &settings.departments,
        },
    ))
}

pub async fn unanswered(
    State(state): State<AppState>,
    caller: Caller,
    q: Result<Query<ReportParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (p, query, format, _) = editor_request(&state, &caller, q)?;
    let limit = match non_empty(&p.limit) {
        None => 50,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or_else(|| {
                ApiError::Invalid(format!(
                    "`limit` must be a number from 1 to 500, not \"{v}\""
                ))
            })?,
    };
    let grouping = Grouping {
        answer_threshold: state.parts.settings.dialogue.answer_threshold as f64,
        ..Grouping::default()
    };
    let report = reports::unanswered(
        &state.parts.store,
        &state.parts.encoder,
        &query,
        &grouping,
        limit,
    )
    .await?;
    Ok(report_response(
        format,
        "onbeantwoord",
        &query,
        || reports::unanswered_csv(&report),
        &report,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn departments() -> Vec<Department> {
        vec![
            Department {
                id: "kcc".into(),
                name: "Klantcontactcentrum".into(),
            },
            Department {
                id: "burgerzaken".into(),
                name: "Burgerzaken".into(),
            },
        ]
    }

    fn parse(pairs: &[(&str, &str)]) -> Result<(ReportQuery, Format), ApiError> {
        let mut p = ReportParams::default();
        for (k, v) in pairs {
            let v = Some(v.to_string());
            match *k {
                "from" => p.from = v,
                "to" => p.to = v,
                "channel" => p.channel = v,
                "department" => p.department = v,
                "format" => p.format = v,
                _ => unreachable!(),
            }
        }
        report_query(
            &p,
            &departments(),
            NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
        )
    }

    #[test]
    fn defaults_to_the_last_30_days() {
        let (q, f) = parse(&[]).unwrap();
        assert_eq!(q.from, NaiveDate::from_ymd_opt(2026, 10, 24).unwrap());
        assert_eq!(q.to, NaiveDate::from_ymd_opt(2026, 11, 22).unwrap());
        assert_eq!(f, Format::Json);
    }

    #[test]
    fn departments_by_id_or_name_and_clear_errors() {
        let (q, f) = parse(&[
            ("department", "Burgerzaken"),
            ("channel", "WhatsApp"),
            ("format", "csv"),
        ])
        .unwrap();
        assert_eq!(q.department.as_deref(), Some("burgerzaken"));
        assert_eq!(q.channel.as_deref(), Some("whatsapp"));
        assert_eq!(f, Format::Csv);
        for bad in [
            vec![("from", "2026-11-30"), ("to", "2026-11-01")],
            vec![("from", "1-11-2026")],
            vec![("to", "2026-02-30")],
            vec![("channel", "fax")],
            vec![("department", "sport")],
            vec![("format", "xml")],
            vec![("from", "2020-01-01"), ("to", "2026-01-01")],
        ] {
            assert!(
                matches!(parse(&bad), Err(ApiError::Invalid(_))),
                "{bad:?} should be invalid"
            );
        }
    }
}
