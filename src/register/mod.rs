//! The register (信息档案): townships, communities, facilities, households and their members, as
//! validated domain types. Parsing happens here, once; the database and HTTP layers only move these.

pub mod csv_io;
mod household;
mod id_number;
pub mod mask;
pub mod text;

pub use household::{
    validate_household, Child, CivilCapacity, Contact, Contribution, FieldError, GroupMember,
    HouseholdFacts, HouseholdInput, MemberFacts, MemberInput, PensionInput, Span, Step, Timeline,
    MAX_GROUP,
};
pub use id_number::{check_char, IdNumber, IdNumberError};

macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable text stored in the database and used in the API.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!(
                        "unknown value '{}', expected one of: {}",
                        s,
                        [$($text),+].join(", ")
                    )),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use text_enum;

text_enum! {
    /// Sex, as encoded in the ID number.
    Sex { Female = "female", Male = "male" }
}

text_enum! {
    /// A member's place in the household.
    Role {
        /// The woman of the couple: her age drives the 49+ gates.
        Mother = "mother",
        /// The man of the couple.
        Father = "father",
        /// The disabled only child, when registered as a member.
        Child = "child",
    }
}

text_enum! {
    /// Urban or rural household registration (城镇 / 农村).
    Area { Urban = "urban", Rural = "rural" }
}

text_enum! {
    /// Whether a member can look after themself (生活自理能力).
    SelfCare { Full = "full", Partial = "partial", None = "none" }
}

text_enum! {
    /// Who a household's contact person (or a member of its contact group) is (二(二)).
    ContactRole {
        /// 镇（街道）工作人员.
        TownshipStaff = "township_staff",
        /// 村（居）干部.
        CommunityCadre = "community_cadre",
        /// 计生协会会员.
        AssociationMember = "association_member",
        /// 志愿者.
        Volunteer = "volunteer",
    }
}

impl ContactRole {
    /// The name staff use.
    pub fn zh(self) -> &'static str {
        match self {
            Self::TownshipStaff => "镇街工作人员",
            Self::CommunityCadre => "村居干部",
            Self::AssociationMember => "计生协会会员",
            Self::Volunteer => "志愿者",
        }
    }

    /// From the name staff use, or the stable text.
    pub fn from_zh(s: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|r| r.zh() == s || r.as_str() == s)
    }
}

text_enum! {
    /// A township (镇) or a street (街道).
    TownshipKind { Town = "town", Street = "street" }
}

text_enum! {
    /// A village (村) or a residents' community (社区).
    CommunityKind { Village = "village", Community = "community" }
}

text_enum! {
    /// What a medical facility is, which decides the priorities its desk grants.
    FacilityKind {
        /// 区人民医院, the designated hospital.
        DistrictHospital = "district_hospital",
        /// 镇卫生院, a designated medical institution.
        TownshipHealthCentre = "township_health_centre",
        /// 社区卫生服务中心, a designated medical institution.
        CommunityHealthCentre = "community_health_centre",
        /// Any other level-1+ institution of the district: the green channel only.
        Other = "other",
    }
}

impl FacilityKind {
    /// Designated institutions (定点医疗机构) grant all six priorities; others the green channel.
    pub fn is_designated(self) -> bool {
        !matches!(self, FacilityKind::Other)
    }

    /// Whether the free annual checkup may be done here (二(五)4).
    pub fn does_checkups(self) -> bool {
        self.is_designated()
    }

    /// Whether it is primary care (镇卫生院, 社区卫生服务中心): who signs family doctors (二(五)6).
    pub fn is_primary_care(self) -> bool {
        matches!(
            self,
            Self::TownshipHealthCentre | Self::CommunityHealthCentre
        )
    }
}
