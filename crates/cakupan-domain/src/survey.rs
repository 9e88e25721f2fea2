//! The campaign's surveys (issue #8): versioned questionnaires, the answers one respondent
//! gives to them, and the weighted estimate of a question's answer for a part of the
//! population (a segment, a region) with its margin of error.
//!
//! A survey is a stratified random sample: each stratum (a district or regency of the region
//! surveyed) has a population `N_h` and `n_h` respondents, each standing for `N_h / n_h`
//! people. The estimate for a *domain* (respondents of one segment, or of one region, or all)
//! is the ratio of weighted sums with the linearised variance of a ratio (Cochran 1977 §6.11;
//! Lohr, *Sampling*, §4.5 and §14.2): for the whole population it is exactly the stratified mean
//! of `campaign::stratified_mean`.

use crate::FieldError;
use crate::campaign::{Estimate, Z95};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What kind of answer a question takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Kind {
    /// "ya" / "tidak" (also yes/no, 1/0): estimated as the share answering yes.
    YesNo,
    /// A whole number from `min` to `max` (a trust scale, an amount in rupiah): estimated as
    /// the mean.
    Number { min: i64, max: i64 },
    /// One of `options`: each option estimated as the share choosing it. `labels_id` and
    /// `labels_en`, when given, name each option for readers, in the options' order.
    Choice {
        options: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        labels_id: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        labels_en: Vec<String>,
    },
}

/// One question of a questionnaire, in both languages. (Unknown fields cannot be refused here:
/// serde does not combine that with the flattened kind; `Questionnaire` refuses its own.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    pub code: String,
    pub text_id: String,
    pub text_en: String,
    #[serde(flatten)]
    pub kind: Kind,
    /// What the answers measure for the planner: `awareness` on a yes/no question (the share
    /// answering yes is the awareness of its district's villages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measures: Option<String>,
}

impl Question {
    /// An option's name for readers (`indonesian` or English): its label, else its code.
    pub fn option_label(&self, option: &str, indonesian: bool) -> String {
        if let Kind::Choice {
            options,
            labels_id,
            labels_en,
        } = &self.kind
        {
            let labels = if indonesian { labels_id } else { labels_en };
            if let Some(l) = options
                .iter()
                .position(|o| o == option)
                .and_then(|i| labels.get(i))
            {
                return l.clone();
            }
        }
        option.to_string()
    }
}

/// The one thing a question may measure for the planner.
pub const MEASURES_AWARENESS: &str = "awareness";

/// A questionnaire version: once any survey uses it, it is never changed; a new version is
/// added instead, and an old one retired (no more answers accepted on it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Questionnaire {
    pub code: String,
    pub version: u32,
    pub title_id: String,
    pub title_en: String,
    pub questions: Vec<Question>,
}

fn code_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 40
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

impl Questionnaire {
    /// Checks the questionnaire itself: codes, at least one question, no question twice, choice
    /// options present and distinct, number bounds in order.
    pub fn check(&self) -> Result<(), FieldError> {
        if !code_ok(&self.code) {
            return Err(FieldError::new(
                "code",
                "questionnaire.code",
                "a questionnaire code is 1 to 40 lowercase letters, digits, '_' or '-'",
            ));
        }
        if self.version == 0 {
            return Err(FieldError::new(
                "version",
                "questionnaire.version",
                "versions are numbered from 1",
            ));
        }
        if self.title_id.trim().is_empty() {
            return Err(FieldError::new(
                "title_id",
                "questionnaire.title",
                "a questionnaire needs a title in Bahasa Indonesia",
            ));
        }
        if self.questions.is_empty() {
            return Err(FieldError::new(
                "questions",
                "questionnaire.empty",
                "a questionnaire needs at least one question",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, q) in self.questions.iter().enumerate() {
            let field = format!("questions[{i}]");
            if !code_ok(&q.code) {
                return Err(FieldError::new(
                    format!("{field}.code"),
                    "questionnaire.code",
                    "a question code is 1 to 40 lowercase letters, digits, '_' or '-'",
                ));
            }
            if !seen.insert(q.code.as_str()) {
                return Err(FieldError::new(
                    format!("{field}.code"),
                    "questionnaire.duplicate_question",
                    format!("question {} is asked twice", q.code),
                ));
            }
            if q.text_id.trim().is_empty() {
                return Err(FieldError::new(
                    format!("{field}.text_id"),
                    "questionnaire.text",
                    "every question needs its text in Bahasa Indonesia",
                ));
            }
            if let Some(m) = &q.measures
                && (m != MEASURES_AWARENESS || q.kind != Kind::YesNo)
            {
                return Err(FieldError::new(
                    format!("{field}.measures"),
                    "questionnaire.measures",
                    format!("only a yes/no question may measure {MEASURES_AWARENESS}"),
                ));
            }
            match &q.kind {
                Kind::YesNo => {}
                Kind::Number { min, max } if min > max => {
                    return Err(FieldError::new(
                        format!("{field}.max"),
                        "questionnaire.bounds",
                        format!("max {max} is below min {min}"),
                    ));
                }
                Kind::Number { .. } => {}
                Kind::Choice {
                    options,
                    labels_id,
                    labels_en,
                } => {
                    let distinct: std::collections::HashSet<_> = options.iter().collect();
                    let labelled = |l: &Vec<String>| {
                        l.is_empty()
                            || (l.len() == options.len()
                                && l.iter().all(|x| !x.trim().is_empty() && x.len() <= 120))
                    };
                    if options.len() < 2
                        || distinct.len() != options.len()
                        || !options.iter().all(|o| code_ok(o))
                        || !labelled(labels_id)
                        || !labelled(labels_en)
                    {
                        return Err(FieldError::new(
                            format!("{field}.options"),
                            "questionnaire.options",
                            "a choice needs at least two distinct option codes (lowercase letters, digits, '_' or '-') and, if labels are given, one label of at most 120 characters per option",
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Reads one respondent's answers (question code → text as typed or uploaded) into
    /// numbers: yes/no as 1/0, numbers as themselves, choices as the option's code. Every
    /// question must be answered or explicitly skipped (empty); unknown questions are refused.
    /// Errors name the question (`answers.<code>`).
    pub fn read_answers(
        &self,
        raw: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, Answer>, FieldError> {
        for k in raw.keys() {
            if !self.questions.iter().any(|q| &q.code == k) {
                return Err(FieldError::new(
                    format!("answers.{k}"),
                    "survey.unknown_question",
                    format!(
                        "questionnaire {} version {} has no question {k}",
                        self.code, self.version
                    ),
                ));
            }
        }
        let mut out = BTreeMap::new();
        for q in &self.questions {
            let field = format!("answers.{}", q.code);
            let Some(v) = raw.get(&q.code).map(|s| s.trim()).filter(|s| !s.is_empty()) else {
                continue; // not answered: left out of that question's estimate
            };
            let a = match &q.kind {
                Kind::YesNo => match v.to_lowercase().as_str() {
                    "ya" | "yes" | "y" | "1" => Answer::Number(1),
                    "tidak" | "no" | "t" | "n" | "0" => Answer::Number(0),
                    _ => {
                        return Err(FieldError::new(
                            field,
                            "survey.yes_no",
                            "the answer is ya/tidak (yes/no)",
                        ));
                    }
                },
                Kind::Number { min, max } => {
                    let n: i64 = v.replace(['.', '_'], "").parse().map_err(|_| {
                        FieldError::new(
                            field.clone(),
                            "survey.number",
                            format!("the answer is a whole number from {min} to {max}"),
                        )
                    })?;
                    if n < *min || n > *max {
                        return Err(FieldError::new(
                            field,
                            "survey.number",
                            format!("the answer is a whole number from {min} to {max}"),
                        ));
                    }
                    Answer::Number(n)
                }
                Kind::Choice { options, .. } => {
                    let v = v.to_lowercase();
                    if !options.contains(&v) {
                        return Err(FieldError::new(
                            field,
                            "survey.choice",
                            format!("the answer is one of {}", options.join(", ")),
                        ));
                    }
                    Answer::Choice(v)
                }
            };
            out.insert(q.code.clone(), a);
        }
        Ok(out)
    }
}

/// One answer, read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Answer {
    Number(i64),
    Choice(String),
}

/// A stratum's respondents for one estimate: the values of those in the domain (for one
/// question), and how many of the stratum's respondents are outside the domain (another
/// segment or region) or did not answer.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainStratum {
    pub population: u64,
    pub values: Vec<f64>,
    pub others: u64,
}

/// The weighted mean of a domain's answers with its 95% margin: R = Σ w y / Σ w over the
/// domain's respondents (w = N_h / n_h), variance Σ_h N_h² (1 − n_h/N_h) s²_u,h / n_h of the
/// linearised values u = (y − R)/N̂_d in the domain and 0 outside it. `population` of the
/// result is N̂_d, the estimated number of people in the domain. A stratum with a single
/// respondent takes the pooled variance of u (as `stratified_mean` does).
pub fn domain_mean(strata: &[DomainStratum]) -> Result<Estimate, FieldError> {
    let mut weighted = 0.0;
    let mut size = 0.0;
    let mut respondents = 0u64;
    for (i, s) in strata.iter().enumerate() {
        let n = s.values.len() as u64 + s.others;
        if n == 0 {
            continue;
        }
        if n > s.population {
            return Err(FieldError::new(
                format!("strata[{i}]"),
                "survey.more_than_population",
                format!("{n} respondents in a stratum of {} people", s.population),
            ));
        }
        if s.values.iter().any(|v| !v.is_finite()) {
            return Err(FieldError::new(
                format!("strata[{i}]"),
                "survey.value",
                "an answer is not a number",
            ));
        }
        let w = s.population as f64 / n as f64;
        weighted += w * s.values.iter().sum::<f64>();
        size += w * s.values.len() as f64;
        respondents += s.values.len() as u64;
    }
    if respondents == 0 {
        return Err(FieldError::new(
            "strata",
            "survey.no_answers",
            "no respondent of this group answered the question",
        ));
    }
    let r = weighted / size;
    // u per stratum: the domain's (y − R)/N̂d, zeros for the rest.
    let us: Vec<(u64, Vec<f64>)> = strata
        .iter()
        .map(|s| {
            let mut u: Vec<f64> = s.values.iter().map(|y| (y - r) / size).collect();
            u.extend(std::iter::repeat_n(0.0, s.others as usize));
            (s.population, u)
        })
        .collect();
    let pooled = {
        let all: Vec<f64> = us.iter().flat_map(|(_, u)| u.iter().copied()).collect();
        variance(&all)
    };
    let mut var = 0.0;
    for (population, u) in &us {
        let n = u.len() as f64;
        if u.is_empty() {
            continue;
        }
        let s2 = if u.len() == 1 { pooled } else { variance(u) };
        let big_n = *population as f64;
        var += big_n * big_n * (1.0 - n / big_n) * s2 / n;
    }
    let std_error = var.max(0.0).sqrt();
    Ok(Estimate {
        value: r,
        std_error,
        margin: Z95 * std_error,
        respondents,
        population: size.round() as u64,
    })
}

/// The sample variance (n − 1); 0 for fewer than two values.
fn variance(v: &[f64]) -> f64 {
    if v.len() < 2 {
        return 0.0;
    }
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::{StratumAnswers, stratified_mean};

    fn q() -> Questionnaire {
        Questionnaire {
            code: "kkbc".into(),
            version: 1,
            title_id: "Survei".into(),
            title_en: "Survey".into(),
            questions: vec![
                Question {
                    code: "aware".into(),
                    text_id: "Pernah dengar?".into(),
                    text_en: "Heard of it?".into(),
                    kind: Kind::YesNo,
                    measures: Some(MEASURES_AWARENESS.into()),
                },
                Question {
                    code: "trust".into(),
                    text_id: "Percaya?".into(),
                    text_en: "Trust?".into(),
                    kind: Kind::Number { min: 1, max: 5 },
                    measures: None,
                },
                Question {
                    code: "channel".into(),
                    text_id: "Bayar di mana?".into(),
                    text_en: "Pay where?".into(),
                    kind: Kind::Choice {
                        labels_id: Vec::new(),
                        labels_en: Vec::new(),
                        options: vec!["agent".into(), "bank".into()],
                    },
                    measures: None,
                },
            ],
        }
    }

    #[test]
    fn answers_are_read_and_named_when_wrong() {
        let q = q();
        q.check().unwrap();
        let raw: BTreeMap<String, String> = [("aware", "Ya"), ("trust", "4"), ("channel", "BANK")]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let a = q.read_answers(&raw).unwrap();
        assert_eq!(a["aware"], Answer::Number(1));
        assert_eq!(a["trust"], Answer::Number(4));
        assert_eq!(a["channel"], Answer::Choice("bank".into()));
        for (k, v, rule) in [
            ("aware", "maybe", "survey.yes_no"),
            ("trust", "9", "survey.number"),
            ("channel", "post", "survey.choice"),
            ("colour", "red", "survey.unknown_question"),
        ] {
            let mut bad = raw.clone();
            bad.insert(k.into(), v.into());
            let e = q.read_answers(&bad).unwrap_err();
            assert_eq!(
                (e.field.as_str(), e.rule),
                (format!("answers.{k}").as_str(), rule)
            );
        }
        let mut dup = q.clone();
        dup.questions.push(dup.questions[0].clone());
        assert_eq!(
            dup.check().unwrap_err().rule,
            "questionnaire.duplicate_question"
        );
    }

    #[test]
    fn the_whole_population_is_the_stratified_mean() {
        let a = [
            (1000u64, vec![1.0, 0.0, 1.0, 1.0]),
            (3000, vec![0.0, 0.0, 1.0]),
            (500, vec![1.0]),
        ];
        let d = domain_mean(
            &a.iter()
                .map(|(n, v)| DomainStratum {
                    population: *n,
                    values: v.clone(),
                    others: 0,
                })
                .collect::<Vec<_>>(),
        )
        .unwrap();
        let s = stratified_mean(
            &a.iter()
                .map(|(n, v)| StratumAnswers {
                    population: *n,
                    values: v.clone(),
                })
                .collect::<Vec<_>>(),
        )
        .unwrap();
        assert!((d.value - s.value).abs() < 1e-12);
        // The singleton stratum borrows a pooled variance in both, on different scales
        // (u vs y), so only the strata with two or more respondents are compared exactly.
        let d2 = domain_mean(&[
            DomainStratum {
                population: 1000,
                values: vec![1.0, 0.0, 1.0, 1.0],
                others: 0,
            },
            DomainStratum {
                population: 3000,
                values: vec![0.0, 0.0, 1.0],
                others: 0,
            },
        ])
        .unwrap();
        let s2 = stratified_mean(&[
            StratumAnswers {
                population: 1000,
                values: vec![1.0, 0.0, 1.0, 1.0],
            },
            StratumAnswers {
                population: 3000,
                values: vec![0.0, 0.0, 1.0],
            },
        ])
        .unwrap();
        assert!((d2.value - s2.value).abs() < 1e-12);
        assert!((d2.std_error - s2.std_error).abs() < 1e-12);
        assert_eq!(d2.population, 4000);
    }

    #[test]
    fn a_domain_by_hand() {
        // Stratum A: N=100, 4 respondents, 2 in the domain answering 1 and 0.
        // Stratum B: N=300, 2 respondents, 1 in the domain answering 1.
        // Weights 25 and 150. N̂d = 25·2 + 150·1 = 200; R = (25·1 + 150·1)/200 = 0.875.
        // u in A: (1−.875)/200 = 0.000625, (0−.875)/200 = −0.004375, 0, 0:
        //   mean −0.0009375, s² = Σ(u−ū)²/3 = (0.0015625² + 0.0034375² + 2·0.0009375²)/3
        //   = (2.44140625e-6 + 1.181640625e-5 + 1.7578125e-6)/3 = 5.338541667e-6;
        //   contribution 100²·(1 − 4/100)·s²/4 = 10000·0.96·1.334635417e-6 = 0.0128125.
        // u in B: (1−.875)/200 = 0.000625, 0: s² = 0.000625²/2 = 1.953125e-7;
        //   contribution 300²·(1 − 2/300)·s²/2 = 90000·0.993333…·9.765625e-8 = 0.00873046875.
        // Var = 0.02154296875, SE = 0.146775…, margin 1.95996·SE = 0.287674…
        let e = domain_mean(&[
            DomainStratum {
                population: 100,
                values: vec![1.0, 0.0],
                others: 2,
            },
            DomainStratum {
                population: 300,
                values: vec![1.0],
                others: 1,
            },
        ])
        .unwrap();
        assert!((e.value - 0.875).abs() < 1e-12);
        assert_eq!(e.population, 200);
        assert_eq!(e.respondents, 3);
        assert!((e.std_error * e.std_error - 0.021_542_968_75).abs() < 1e-12);
        assert!((e.margin - Z95 * 0.021_542_968_75_f64.sqrt()).abs() < 1e-12);
    }
}
