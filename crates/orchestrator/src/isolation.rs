//! One application's channel topics are its own: an application whose endpoints overlap
//! another application's is refused, unless the overlap lies inside what one of the two
//! `exports`. Modules only ever see the channels their manifest names, so this is what keeps
//! one application from reading or feeding another's data by naming its topics.

use crate::model::AppRecord;
use crate::ApiError;
use silverline_manifest::{filter_covers, filters_overlap, ApplicationManifest};

/// Refuse `manifest` if an endpoint of it overlaps an unexported endpoint of one of `others`.
pub(crate) fn check<'a>(manifest: &ApplicationManifest, others: impl Iterator<Item = &'a AppRecord>) -> Result<(), ApiError> {
    let mine = manifest.endpoints();
    for other in others.filter(|o| o.name != manifest.name.as_str()) {
        let Ok(theirs) = ApplicationManifest::from_str(&other.manifest.to_string(), crate::core::api_base_dir()) else { continue };
        let exported = |m: &ApplicationManifest, e: &str| m.exports.iter().any(|x| filter_covers(x.as_str(), e));
        let their_endpoints = theirs.endpoints();
        for (path, e) in &mine {
            let clash = their_endpoints.iter().find(|(_, t)| filters_overlap(e.as_str(), t.as_str()) && !exported(&theirs, e.as_str()) && !exported(manifest, t.as_str()));
            if let Some((_, t)) = clash {
                let expected = format!("a topic of this application only: application `{}` uses `{t}` and does not export it (list it under `exports` in one of the two manifests to share it)", other.name);
                return Err(ApiError::invalid(path, e.as_str(), &expected));
            }
        }
    }
    Ok(())
}
