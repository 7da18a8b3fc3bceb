//! Demo data that exercises the whole contract, seeded on first start. The
//! ids match the parameter examples of `openapi/audiences.yaml`.

use crate::keys;
use crate::store::{AnyStore, AudienceState, NewKey, Position, Seed, StoreError, StoredProspect};
use audiences_types::{AudienceProspect, ProspectCompany, ProspectEmail, ProspectLocation};

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

/// The demo prospect number `index` with its position: one millisecond apart.
pub fn stored(index: u32) -> StoredProspect {
    let prospect = prospect(index);
    StoredProspect {
        position: Position {
            created_at: EPOCH_MICROS + i64::from(index) * 1_000,
            id: prospect.id.clone(),
        },
        prospect,
    }
}

/// Inserts `count` demo prospects into `audience`, numbered from `first`,
/// all or none.
pub async fn insert_prospects(
    store: &AnyStore,
    audience: &str,
    first: u32,
    count: u32,
) -> Result<(), StoreError> {
    const CHUNK: u32 = 10_000;
    // Bounded memory for large seeds; each chunk is one transaction.
    let mut next = first;
    while next < first + count {
        let end = (next + CHUNK).min(first + count);
        let rows: Vec<StoredProspect> = (next..end).map(stored).collect();
        store.insert_prospects(audience, &rows).await?;
        next = end;
    }
    store.refresh_statistics().await
}

/// A new key for `permissions` (or for the secret `key`): the key to store
/// and its secret, shown once.
pub fn new_key(permissions: &[&str], key: Option<String>) -> (NewKey, String) {
    let key = key.unwrap_or_else(keys::generate);
    let new = NewKey {
        id: keys::new_id(),
        hash: keys::hash(&key),
        permissions: permissions
            .iter()
            .map(|&permission| permission.to_owned())
            .collect(),
    };
    (new, key)
}

/// Creates an API key for `group` with `permissions` (or uses `key`); returns
/// (id, key). Only the key's hash is stored.
pub async fn create_key(
    store: &AnyStore,
    group: &str,
    permissions: &[&str],
    key: Option<String>,
) -> Result<(String, String), StoreError> {
    let (new, key) = new_key(permissions, key);
    store.create_key(group, &new).await?;
    Ok((new.id, key))
}

/// Seeds the demo data, in one transaction, unless the demo account group
/// exists; returns the new keys when it seeded. Several instances starting
/// at once seed it once.
pub async fn seed(store: &AnyStore, demo_key: Option<String>) -> Result<Option<DemoKeys>, StoreError> {
    if store.account_group_exists(ACCOUNT_GROUP_ID).await? {
        return Ok(None);
    }
    let (full_key, full) = new_key(keys::ALL_PERMISSIONS, demo_key);
    let (reader_key, without_prospects) = new_key(&["audiences:read"], None);
    let seed = Seed {
        account_group: ACCOUNT_GROUP_ID.to_owned(),
        name: "Demo account group".to_owned(),
        audiences: vec![
            (
                READY_AUDIENCE_ID.to_owned(),
                "Revenue leaders in Europe".to_owned(),
                AudienceState::Ready,
                (0..READY_AUDIENCE_SIZE).map(stored).collect(),
            ),
            (
                POPULATING_AUDIENCE_ID.to_owned(),
                "Founders, being populated".to_owned(),
                AudienceState::Populating,
                Vec::new(),
            ),
        ],
        keys: vec![full_key, reader_key],
    };
    let seeded = store.seed(&seed).await?;
    if seeded {
        store.refresh_statistics().await?;
    }
    Ok(seeded.then_some(DemoKeys {
        full,
        without_prospects,
    }))
}

/// The cursor secret, generated and persisted on first use.
pub async fn cursor_secret(store: &AnyStore) -> Result<Vec<u8>, StoreError> {
    let fresh = hex::encode(rand::random::<[u8; 32]>());
    Ok(store
        .setting_or_insert("cursor_secret", &fresh)
        .await?
        .into_bytes())
}
