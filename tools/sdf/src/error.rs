//! What went wrong, and where.

use core::fmt;

/// Which rule a finding breaks. Most mirror a check of the microkit tool
/// (Microkit 2.3.0); the README lists where sevio-sdf is stricter.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// Not well-formed XML (unclosed tag, bad character, ...).
    Xml,
    /// The root element is not `<system>`.
    Root,
    /// Non-blank text inside an element.
    UnexpectedText,
    /// An element Microkit does not know here.
    UnknownElement,
    /// An attribute Microkit does not know on this element.
    UnknownAttribute,
    /// Valid Microkit that sevio-sdf does not model (VMs, x86, domains, ...).
    Unsupported,
    /// A required attribute is absent.
    MissingAttribute,
    /// A required child element is absent (`<program_image>`).
    MissingElement,
    /// A child element given twice that may appear once.
    DuplicateElement,
    /// A number that does not parse or does not fit.
    InvalidNumber,
    /// A boolean other than `true` / `false`.
    InvalidBool,
    /// Another attribute value outside its set (`trigger`, ...).
    InvalidValue,
    /// `perms`: letters other than r/w/x, write-only, or empty.
    Perms,
    /// Priority above 254.
    Priority,
    /// Budget larger than period.
    BudgetPeriod,
    /// Stack size out of bounds or not page aligned.
    StackSize,
    /// `page_size` other than 0x1000 or 0x200000.
    PageSize,
    /// A memory region size that is zero or not a multiple of its page size.
    Size,
    /// A `vaddr` or `phys_addr` not aligned to the region's page size.
    Alignment,
    /// An address range that wraps past 2^64.
    AddressOverflow,
    /// A map that reaches the stack (or beyond).
    MapBeyondStack,
    /// Two maps of one PD overlap.
    MapOverlap,
    /// Two memory regions with `phys_addr` overlap.
    PhysOverlap,
    /// A reference to a PD that does not exist.
    UnknownPd,
    /// A reference to a memory region that does not exist.
    UnknownMemoryRegion,
    /// Two PDs share a name.
    DuplicatePdName,
    /// Two memory regions share a name.
    DuplicateMrName,
    /// A PD named `monitor`.
    ReservedName,
    /// No PD at all.
    NoPds,
    /// More than 63 PDs.
    TooManyPds,
    /// A `<channel>` without exactly two `<end>`s.
    ChannelEnds,
    /// A channel or IRQ id outside 0..=61.
    IdRange,
    /// Two channel ends or IRQs of one PD share an id.
    DuplicateId,
    /// Both ends of a channel have `pp="true"`.
    BidirectionalPpc,
    /// A PPC to a PD whose priority is not strictly higher.
    PpcPriority,
    /// Two `<irq>`s in the system claim the same interrupt number.
    DuplicateIrq,
    /// A nested PD's `id` outside 0..=63.
    ChildId,
    /// Two children of one PD share an `id`.
    DuplicateChildId,
    /// Two variables of one PD set the same symbol.
    DuplicateSetvar,
    /// Warning: a memory region no PD maps.
    UnusedMemoryRegion,
    /// Warning: a passive PD that nothing can wake (no PPC to it, no
    /// notification to it, no IRQ, no child).
    UnreachablePassive,
    /// Warning: a channel neither end can use (no notify, no pp).
    IdleChannel,
}

impl Rule {
    /// True for findings the microkit tool accepts (it prints at most a
    /// warning): [`crate::lint`] returns these, [`crate::parse`] never fails
    /// on them.
    pub fn is_warning(self) -> bool {
        matches!(self, Rule::UnusedMemoryRegion | Rule::UnreachablePassive | Rule::IdleChannel)
    }
}

/// One finding in a system description: the rule, the element and
/// attribute it is about, and where they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdfError {
    /// The file name used in messages (`system.xml` unless given).
    pub file: String,
    /// 1-based line; 0 when the system was built in code.
    pub line: u32,
    /// 1-based column (in characters); 0 when unknown.
    pub column: u32,
    /// The element, without angle brackets (`map`); `None` for the document.
    pub element: Option<String>,
    /// The attribute, if the finding is about one.
    pub attribute: Option<String>,
    /// The rule broken.
    pub rule: Rule,
    /// What is wrong, for a human.
    pub message: String,
}

impl fmt::Display for SdfError {
    /// `system.xml:12: <map> attribute vaddr: 0x1234 is not aligned ...`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line != 0 {
            write!(f, ":{}", self.line)?;
        }
        f.write_str(": ")?;
        if self.rule.is_warning() {
            f.write_str("warning: ")?;
        }
        match (&self.element, &self.attribute) {
            (Some(e), Some(a)) => write!(f, "<{e}> attribute {a}: ")?,
            (Some(e), None) => write!(f, "<{e}>: ")?,
            (None, _) => {}
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for SdfError {}

/// Why [`crate::load`] failed.
#[derive(Debug)]
pub enum LoadError {
    /// The file could not be read.
    Io {
        /// The path as given.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file was read but breaks rules (every finding, in file order).
    Invalid(Vec<SdfError>),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Io { path, source } => write!(f, "{path}: {source}"),
            LoadError::Invalid(errors) => {
                for (i, e) in errors.iter().enumerate() {
                    if i > 0 {
                        f.write_str("\n")?;
                    }
                    write!(f, "{e}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for LoadError {}
