//! Finding the parts of a document a library cannot take, when the whole
//! fails: halves are tried (the schemas typify converts, the operations
//! progenitor generates), down to single parts, so that a few failures in a
//! large document cost a few dozen trials rather than one per part. A
//! failure that needs two parts together (each half passes, the whole does
//! not) is narrowed by leaving out one part at a time; failing that, the
//! group is given up whole.

/// The parts of `candidates` that fail, each with why: `trial(set)` tries
/// the parts of `set` alone and says why it fails, if it does.
pub(crate) fn culprits(
    candidates: &[String],
    mut trial: impl FnMut(&[String]) -> Result<(), String>,
) -> Vec<(String, String)> {
    let mut found = Vec::new();
    search(candidates, &mut trial, &mut found);
    found
}

/// A group this small is narrowed one schema at a time.
const NARROW_BELOW: usize = 16;

fn search(
    set: &[String],
    trial: &mut impl FnMut(&[String]) -> Result<(), String>,
    found: &mut Vec<(String, String)>,
) {
    let Err(reason) = trial(set) else {
        return;
    };
    if let [only] = set {
        found.push((only.clone(), reason));
        return;
    }
    let (left, right) = set.split_at(set.len() / 2);
    let before = found.len();
    search(left, trial, found);
    search(right, trial, found);
    if found.len() > before {
        return;
    }
    // Each half converts alone, the two together do not.
    if set.len() < NARROW_BELOW {
        for (index, name) in set.iter().enumerate() {
            let mut without: Vec<String> = set.to_vec();
            without.remove(index);
            if trial(&without).is_ok() {
                found.push((name.clone(), format!("{reason} (with others of the group)")));
                return;
            }
        }
    }
    found.extend(set.iter().map(|name| {
        (
            name.clone(),
            format!("{reason} (a group of {} that fail together)", set.len()),
        )
    }));
}

#[cfg(test)]
mod tests {
    use super::culprits;

    fn names(count: usize) -> Vec<String> {
        (0..count).map(|index| format!("S{index}")).collect()
    }

    #[test]
    fn each_failing_schema_is_found_alone() {
        let all = names(40);
        let bad = ["S3", "S31"];
        let mut trials = 0;
        let found = culprits(&all, |set| {
            trials += 1;
            match set.iter().find(|name| bad.contains(&name.as_str())) {
                Some(name) => Err(format!("{name} panics")),
                None => Ok(()),
            }
        });
        let found: Vec<&str> = found.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(found, ["S3", "S31"]);
        assert!(trials < 40, "bisection, not one trial per schema: {trials}");
    }

    #[test]
    fn a_failure_of_two_schemas_together_costs_one_of_them() {
        let all = names(8);
        let found = culprits(&all, |set| {
            if set.iter().any(|name| name == "S1") && set.iter().any(|name| name == "S6") {
                Err("S1 with S6".to_owned())
            } else {
                Ok(())
            }
        });
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(["S1", "S6"].contains(&found[0].0.as_str()));
    }
}
