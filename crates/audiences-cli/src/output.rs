//! Output formats, written incrementally: a page is written as soon as it
//! arrives and then dropped. A file is written beside its destination and
//! renamed into place only when complete, so a failed export never leaves a
//! truncated file that looks whole.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use audiences_client::RawPage;
use audiences_client::types::AudienceProspect;

/// How prospects are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// Aligned columns for people.
    Table,
    /// One JSON array.
    Json,
    /// One JSON object a line.
    Jsonl,
    /// CSV with a header, one prospect a row, emails joined by `;`.
    Csv,
}

const CSV_HEADER: [&str; 18] = [
    "id",
    "name",
    "firstName",
    "lastName",
    "title",
    "headline",
    "about",
    "company",
    "companyWebsite",
    "location",
    "countryCode",
    "emails",
    "premium",
    "isOpenProfile",
    "connectionStatus",
    "chatStatus",
    "linkedinUrl",
    "publicIdentifier",
];

/// Table columns: title and width (the last one is not padded).
const TABLE_COLUMNS: [(&str, usize); 6] = [
    ("ID", 24),
    ("NAME", 24),
    ("TITLE", 28),
    ("COMPANY", 22),
    ("LOCATION", 22),
    ("EMAILS", 0),
];

enum Target {
    Stdout,
    File { partial: PathBuf, destination: PathBuf },
}

/// Where the prospects go.
pub(crate) struct Sink {
    format: Format,
    out: Box<dyn Write>,
    target: Target,
    count: u64,
    /// A page of JSON, serialized here before one write of it: serde_json
    /// writes a struct in many small pieces, each a dynamic call into the
    /// `BufWriter` when written to `out` directly (a third of the CLI's
    /// CPU in an export).
    page: Vec<u8>,
}

fn text(value: Option<&str>) -> &str {
    value.unwrap_or("")
}

fn fit(value: &str, width: usize) -> String {
    if width == 0 {
        return value.to_owned();
    }
    let length = value.chars().count();
    if length <= width {
        format!("{value:width$}")
    } else {
        let cut: String = value.chars().take(width.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

fn emails(prospect: &AudienceProspect) -> String {
    prospect
        .emails
        .iter()
        .map(|email| email.email.as_str())
        .collect::<Vec<_>>()
        .join(";")
}

/// The room asked for when standard output is a pipe: a page of 100
/// prospects is about 90 KiB, more than a pipe holds by default (64 KiB),
/// so every page's write waited for the reader and switched to it; 1 MiB
/// (Linux's `pipe-max-size` unless raised) holds about ten pages. Into
/// `wc -l`, 100,000 prospects: 20 % less time, 13 % less CPU (8 runs,
/// 2026-12-04).
#[cfg(target_os = "linux")]
const PIPE_BYTES: usize = 1 << 20;

/// Widens the pipe `fd` is, when it is one narrower than [`PIPE_BYTES`];
/// nothing for anything else, or when the system refuses (the output is
/// the same either way).
#[cfg(target_os = "linux")]
fn widen_pipe(fd: std::os::fd::BorrowedFd<'_>) {
    if rustix::pipe::fcntl_getpipe_size(fd).is_ok_and(|size| size < PIPE_BYTES) {
        let _ = rustix::pipe::fcntl_setpipe_size(fd, PIPE_BYTES);
    }
}

impl Sink {
    /// Standard output, or a new file at `path` (written as `path.partial`
    /// until [`Sink::commit`]).
    pub(crate) fn open(format: Format, path: Option<&Path>) -> io::Result<Self> {
        let (out, target): (Box<dyn Write>, Target) = match path {
            None => {
                let stdout = io::stdout();
                #[cfg(target_os = "linux")]
                widen_pipe(std::os::fd::AsFd::as_fd(&stdout));
                (Box::new(BufWriter::new(stdout.lock())), Target::Stdout)
            }
            Some(destination) => {
                let mut partial = destination.as_os_str().to_owned();
                partial.push(".partial");
                let partial = PathBuf::from(partial);
                let file = File::create(&partial)?;
                (
                    Box::new(BufWriter::with_capacity(256 * 1024, file)),
                    Target::File {
                        partial,
                        destination: destination.to_owned(),
                    },
                )
            }
        };
        let mut sink = Self {
            format,
            out,
            target,
            count: 0,
            page: Vec::new(),
        };
        match format {
            Format::Json => sink.out.write_all(b"[")?,
            Format::Csv => {
                let mut writer = csv::Writer::from_writer(&mut sink.out);
                writer.write_record(CSV_HEADER)?;
                writer.flush()?;
            }
            Format::Table => {
                let header: Vec<String> = TABLE_COLUMNS
                    .iter()
                    .map(|(title, width)| fit(title, *width))
                    .collect();
                writeln!(sink.out, "{}", header.join("  ").trim_end())?;
            }
            Format::Jsonl => {}
        }
        Ok(sink)
    }

    /// Prospects written so far.
    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// Writes a page of prospects.
    pub(crate) fn write_all(&mut self, prospects: &[AudienceProspect]) -> io::Result<()> {
        match self.format {
            Format::Csv => self.write_csv(prospects),
            Format::Json | Format::Jsonl => self.write_json(prospects),
            Format::Table => self.write_table(prospects),
        }
    }

    fn write_table(&mut self, prospects: &[AudienceProspect]) -> io::Result<()> {
        for prospect in prospects {
            let cells = [
                prospect.id.clone(),
                prospect.name.clone(),
                text(prospect.title.as_deref()).to_owned(),
                prospect
                    .company
                    .as_ref()
                    .map_or(String::new(), |company| company.name.clone()),
                text(
                    prospect
                        .location
                        .as_ref()
                        .and_then(|location| location.text.as_deref()),
                )
                .to_owned(),
                emails(prospect),
            ];
            let line: Vec<String> = cells
                .iter()
                .zip(TABLE_COLUMNS)
                .map(|(cell, (_, width))| fit(cell, width))
                .collect();
            writeln!(self.out, "{}", line.join("  ").trim_end())?;
            self.count += 1;
        }
        Ok(())
    }

    /// Whether this format writes prospects exactly as the server sent
    /// them ([`Sink::write_raw`]): JSON and JSON lines do; the table and
    /// CSV read typed fields.
    pub(crate) fn wants_raw(&self) -> bool {
        matches!(self.format, Format::Json | Format::Jsonl)
    }

    /// Writes a page of prospects as the server sent them (each already
    /// checked to parse as the documented type): fields a newer server adds
    /// pass through.
    pub(crate) fn write_raw(&mut self, page: &RawPage) -> io::Result<()> {
        self.page.clear();
        for item in page.item_bytes() {
            if self.format == Format::Json {
                let separator: &[u8] = if self.count == 0 { b"\n" } else { b",\n" };
                self.page.extend_from_slice(separator);
                self.page.extend_from_slice(item);
            } else {
                self.page.extend_from_slice(item);
                self.page.push(b'\n');
            }
            self.count += 1;
        }
        self.out.write_all(&self.page)
    }

    fn write_json(&mut self, prospects: &[AudienceProspect]) -> io::Result<()> {
        self.page.clear();
        for prospect in prospects {
            if self.format == Format::Json {
                let separator: &[u8] = if self.count == 0 { b"\n" } else { b",\n" };
                self.page.extend_from_slice(separator);
                serde_json::to_writer(&mut self.page, prospect)?;
            } else {
                serde_json::to_writer(&mut self.page, prospect)?;
                self.page.push(b'\n');
            }
            self.count += 1;
        }
        self.out.write_all(&self.page)
    }

    fn write_csv(&mut self, prospects: &[AudienceProspect]) -> io::Result<()> {
        let mut writer = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(&mut self.out);
        for prospect in prospects {
            let company = prospect.company.as_ref();
            let location = prospect.location.as_ref();
            let emails = emails(prospect);
            writer.write_record([
                prospect.id.as_str(),
                prospect.name.as_str(),
                text(prospect.first_name.as_deref()),
                text(prospect.last_name.as_deref()),
                text(prospect.title.as_deref()),
                text(prospect.headline.as_deref()),
                text(prospect.about.as_deref()),
                company.map_or("", |company| company.name.as_str()),
                text(company.and_then(|company| company.website.as_deref())),
                text(location.and_then(|location| location.text.as_deref())),
                text(location.and_then(|location| location.country_code.as_deref())),
                &emails,
                if prospect.premium { "true" } else { "false" },
                if prospect.is_open_profile { "true" } else { "false" },
                text(prospect.connection_status.as_deref()),
                text(prospect.chat_status.as_deref()),
                text(prospect.linkedin_url.as_deref()),
                text(prospect.public_identifier.as_deref()),
            ])?;
            self.count += 1;
        }
        writer.flush()
    }

    /// Finishes the output (closes the JSON array, flushes, moves the file
    /// into place); names where it went.
    pub(crate) fn commit(mut self) -> io::Result<String> {
        if self.format == Format::Json {
            self.out
                .write_all(if self.count == 0 { b"]\n" } else { b"\n]\n" })?;
        }
        self.out.flush()?;
        drop(self.out);
        match self.target {
            Target::Stdout => Ok("standard output".to_owned()),
            Target::File { partial, destination } => {
                std::fs::rename(&partial, &destination)?;
                Ok(destination.display().to_string())
            }
        }
    }

    /// Gives up: removes the partial file, if any.
    pub(crate) fn abandon(self) {
        let Sink { out, target, .. } = self;
        drop(out);
        if let Target::File { partial, .. } = target {
            let _ = std::fs::remove_file(partial);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pipe is widened to hold about ten pages; a file is left alone.
    #[cfg(target_os = "linux")]
    #[test]
    fn standard_output_into_a_pipe_is_widened() {
        use std::os::fd::AsFd;
        let (reader, writer) = rustix::pipe::pipe().unwrap();
        let before = rustix::pipe::fcntl_getpipe_size(&writer).unwrap();
        assert!(before < PIPE_BYTES, "a pipe holds {before} bytes by default");
        widen_pipe(writer.as_fd());
        let limit: usize = std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
            .map_or(PIPE_BYTES, |text| text.trim().parse().unwrap());
        let after = rustix::pipe::fcntl_getpipe_size(&reader).unwrap();
        // Unprivileged, a system whose limit is lower refuses: left as it was.
        assert!(
            after == PIPE_BYTES || (limit < PIPE_BYTES && after == before),
            "{before} -> {after} bytes (limit {limit})"
        );
        let path = std::env::temp_dir().join(format!("audiences-cli-pipe-{}", std::process::id()));
        let file = File::create(&path).unwrap();
        widen_pipe(file.as_fd());
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn fit_pads_and_truncates_by_characters() {
        assert_eq!(fit("ab", 4), "ab  ");
        assert_eq!(fit("García-López", 6), "Garcí…");
        assert_eq!(fit("anything", 0), "anything");
    }
}
