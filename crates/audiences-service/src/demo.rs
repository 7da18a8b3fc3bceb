//! Demo data that exercises the whole contract, seeded on first start. The
//! ids match the parameter examples of `openapi/audiences.yaml`.

use audiences_types::{AudienceProspect, ProspectCompany, ProspectEmail, ProspectLocation};
use sqlx::SqlitePool;

use crate::keys;

/// The demo account group.
pub const ACCOUNT_GROUP_ID: &str = "6650a1b2c3d4e5f601234567";
/// The ready demo audience.
pub const READY_AUDIENCE_ID: &str = "6650a1b2c3d4e5f60123abcd";
/// The demo audience still being populated (409).
pub const POPULATING_AUDIENCE_ID: &str = "6650a1b2c3d4e5f60123abce";
/// How many prospects the ready audience holds.
pub const READY_AUDIENCE_SIZE: u32 = 1_000;
/// 2026-01-01T00:00:00Z in microseconds: when the demo prospects start.
const EPOCH_MICROS: i64 = 1_767_225_600_000_000;

const FIRST: &[&str] = &[
    "Avery", "Jordan", "Riley", "Morgan", "Casey", "Quinn", "Harper", "Rowan", "Elena", "Mateo",
];
const LAST: &[&str] = &[
    "Stone", "Nguyen", "Okafor", "Schmidt", "García", "Kowalski", "Tanaka", "O'Brien", "Rossi", "Haddad",
];
const TITLES: &[&str] = &[
    "Head of Growth",
    "VP Sales",
    "CTO",
    "Founder & CEO",
    "Revenue Operations Lead",
];
const COMPANIES: &[&str] = &[
    "Northwind",
    "Acme, Inc.",
    "Globex",
    "Initech",
    "Umbrella Analytics",
    "Hooli",
];
const CITIES: &[(&str, &str)] = &[
    ("Berlin, Germany", "DE"),
    ("Austin, Texas", "US"),
    ("Lyon, France", "FR"),
    ("Lagos, Nigeria", "NG"),
];

/// The demo prospect number `index`: deterministic, every field of the seed's
/// prospect, some nullable fields null, several emails for some.
pub fn prospect(index: u32) -> AudienceProspect {
    let pick = |list: &[&'static str], salt: u32| {
        list[(index.wrapping_mul(31).wrapping_add(salt) as usize) % list.len()]
    };
    let first = pick(FIRST, 0);
    let last = pick(LAST, 7);
    let handle = format!(
        "{}-{}-{index}",
        first.to_lowercase(),
        last.to_lowercase().replace('\'', "")
    );
    let company_name = pick(COMPANIES, 3);
    let (city, country) = CITIES[index as usize % CITIES.len()];
    let emails = (0..index % 3)
        .map(|n| ProspectEmail {
            email: format!("{handle}{n}@example.com"),
            deliverable: Some(if n == 0 { "deliverable" } else { "risky" }.into()),
            quality_score: if index.is_multiple_of(5) {
                None
            } else {
                Some(["A", "B", "C"][n as usize % 3].into())
            },
        })
        .collect();
    AudienceProspect {
        id: format!("{:024x}", 0x6650_0000_0000_0000_u64 + u64::from(index)),
        first_name: Some(first.into()),
        last_name: if index.is_multiple_of(17) {
            None
        } else {
            Some(last.into())
        },
        name: format!("{first} {last}"),
        headline: Some(format!("{} at {company_name}", pick(TITLES, 5))),
        about: if index.is_multiple_of(4) {
            None
        } else {
            Some(format!("Building \"{company_name}\", one customer at a time."))
        },
        photo_url: if index.is_multiple_of(6) {
            None
        } else {
            Some(format!("https://example.com/photos/{handle}.jpg"))
        },
        linkedin_url: Some(format!("https://example.com/in/{handle}")),
        public_identifier: Some(handle.clone()),
        company: if index.is_multiple_of(9) {
            None
        } else {
            Some(ProspectCompany {
                name: company_name.into(),
                linkedin_identifier: Some(company_name.to_lowercase().replace([' ', ',', '.'], "")),
                linkedin_url: Some(format!("https://example.com/company/{index}")),
                industry: Some("Software".into()),
                website: Some("https://example.com".into()),
                size: Some(["11-50", "51-200", "201-500"][index as usize % 3].into()),
                location: Some(city.into()),
                about: None,
                logo_url: Some("https://example.com/logo.png".into()),
                founded: Some(format!("{}", 1990 + index % 35)),
                type_: Some("Privately Held".into()),
                specialties: Some("B2B, SaaS".into()),
                follower_count: Some(i64::from(index) * 37 % 100_000),
                tagline: None,
            })
        },
        title: Some(pick(TITLES, 5).into()),
        location: if index.is_multiple_of(11) {
            None
        } else {
            Some(ProspectLocation {
                text: Some(city.into()),
                country_code: Some(country.into()),
            })
        },
        emails,
        premium: index.is_multiple_of(2),
        is_open_profile: index.is_multiple_of(3),
        connection_status: Some(["active", "pending", "none"][index as usize % 3].into()),
        chat_status: if index.is_multiple_of(7) {
            None
        } else {
            Some("active".into())
        },
    }
}

/// The keys created by [`seed`]: shown once, never stored.
pub struct DemoKeys {
    /// A key with every permission.
    pub full: String,
    /// A key without `prospects:read` (403).
    pub without_prospects: String,
}

/// Inserts `count` prospects into `audience`, numbered from `first`, one
/// millisecond apart, in one transaction.
pub async fn insert_prospects(
    pool: &SqlitePool,
    audience: &str,
    first: u32,
    count: u32,
) -> Result<(), sqlx::Error> {
    let mut transaction = pool.begin().await?;
    for index in first..first + count {
        let prospect = prospect(index);
        sqlx::query("INSERT INTO prospects (audience_id, id, created_at, data) VALUES (?, ?, ?, ?)")
            .bind(audience)
            .bind(&prospect.id)
            .bind(EPOCH_MICROS + i64::from(index) * 1_000)
            .bind(serde_json::to_string(&prospect).expect("a prospect serializes"))
            .execute(&mut *transaction)
            .await?;
    }
    transaction.commit().await
}

/// Creates an API key for `group` with `permissions`; returns (id, key).
pub async fn create_key(
    pool: &SqlitePool,
    group: &str,
    permissions: &[&str],
    key: Option<String>,
) -> Result<(String, String), sqlx::Error> {
    let key = key.unwrap_or_else(keys::generate);
    let id = keys::new_id();
    sqlx::query("INSERT INTO api_keys (id, account_group_id, key_hash, permissions) VALUES (?, ?, ?, ?)")
        .bind(&id)
        .bind(group)
        .bind(keys::hash(&key))
        .bind(permissions.join(" "))
        .execute(pool)
        .await?;
    Ok((id, key))
}

/// Seeds the demo data unless the demo account group exists; returns the new
/// keys when it seeded.
pub async fn seed(pool: &SqlitePool, demo_key: Option<String>) -> Result<Option<DemoKeys>, sqlx::Error> {
    let exists: Option<String> = sqlx::query_scalar("SELECT id FROM account_groups WHERE id = ?")
        .bind(ACCOUNT_GROUP_ID)
        .fetch_optional(pool)
        .await?;
    if exists.is_some() {
        return Ok(None);
    }
    sqlx::query("INSERT INTO account_groups (id, name) VALUES (?, 'Demo account group')")
        .bind(ACCOUNT_GROUP_ID)
        .execute(pool)
        .await?;
    for (id, name, status) in [
        (READY_AUDIENCE_ID, "Revenue leaders in Europe", "ready"),
        (POPULATING_AUDIENCE_ID, "Founders, being populated", "populating"),
    ] {
        sqlx::query("INSERT INTO audiences (id, account_group_id, name, status) VALUES (?, ?, ?, ?)")
            .bind(id)
            .bind(ACCOUNT_GROUP_ID)
            .bind(name)
            .bind(status)
            .execute(pool)
            .await?;
    }
    insert_prospects(pool, READY_AUDIENCE_ID, 0, READY_AUDIENCE_SIZE).await?;
    let (_, full) = create_key(pool, ACCOUNT_GROUP_ID, keys::ALL_PERMISSIONS, demo_key).await?;
    let (_, without_prospects) = create_key(pool, ACCOUNT_GROUP_ID, &["audiences:read"], None).await?;
    Ok(Some(DemoKeys {
        full,
        without_prospects,
    }))
}

/// The cursor secret, generated and persisted on first use.
pub async fn cursor_secret(pool: &SqlitePool) -> Result<Vec<u8>, sqlx::Error> {
    let fresh: [u8; 32] = rand::random();
    let fresh: String = fresh.iter().map(|byte| format!("{byte:02x}")).collect();
    sqlx::query("INSERT OR IGNORE INTO settings (name, value) VALUES ('cursor_secret', ?)")
        .bind(&fresh)
        .execute(pool)
        .await?;
    let stored: String = sqlx::query_scalar("SELECT value FROM settings WHERE name = 'cursor_secret'")
        .fetch_one(pool)
        .await?;
    Ok(stored.into_bytes())
}
