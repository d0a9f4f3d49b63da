//! Indexes over the live world, kept up to date as it changes, so that an operation costs what it touches rather
//! than what the world holds: where each VIF sits in the list, which peer ids are listed (and on which VIF), and
//! which IPv6 /125 blocks are taken.

use std::collections::{BTreeSet, HashMap};
use std::net::Ipv6Addr;
use std::sync::Arc;

use super::super::world::{Peer, Vif};
use super::lifecycle::Listing;

/// First /125 of the IPv6 pool: the seed example's `2001:db8:1100:2f0:0:1:9cb4:4210`.
pub const IPV6_POOL_START: u128 = 0x2001_0db8_1100_02f0_0000_0001_9cb4_4210;

/// Where each VIF of a list is, by id (the first, should an id repeat).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Positions(HashMap<String, usize>);

impl Positions {
    pub fn build(vifs: &[Arc<Vif>]) -> Positions {
        let mut map = HashMap::with_capacity(vifs.len());
        for (i, v) in vifs.iter().enumerate() {
            map.entry(v.virtual_interface_id.clone()).or_insert(i);
        }
        Positions(map)
    }

    pub fn get(&self, id: &str) -> Option<usize> {
        self.0.get(id).copied()
    }
}

impl Listing for Positions {
    fn position(&mut self, _vifs: &[Arc<Vif>], id: &str) -> Option<usize> {
        self.get(id)
    }

    fn vif_removed(&mut self, vifs: &[Arc<Vif>], _removed: &Vif) {
        // Every later VIF moved up one place. VIFs leave only when their deleted retention ends: rare.
        *self = Positions::build(vifs);
    }
}

/// The VIFs listing a peer id, once per listing: one, as world files have unique peer ids and the engine draws
/// unused ones, but the index does not rely on that.
type PeerSlot = Vec<String>;

/// The IPv6 /125 blocks that listed peers' addresses fall in, and the lowest free one from the pool start.
#[derive(Clone, Debug, Default)]
struct Ipv6Blocks {
    /// Addresses listed in each block (a peer's two addresses share one).
    used: HashMap<u128, u32>,
    /// Every block in `[IPV6_POOL_START, cursor)` is used, except those in `holes`.
    cursor: u128,
    /// Blocks below `cursor` freed since the cursor passed them.
    holes: BTreeSet<u128>,
}

/// The /125 block of an address field such as `2001:db8::1/125`, if it is an IPv6 address.
fn ipv6_block(address: &str) -> Option<u128> {
    let ip = address.split('/').next()?.parse::<Ipv6Addr>().ok()?;
    Some(u128::from(ip) & !7)
}

fn ipv6_blocks(peer: &Peer) -> impl Iterator<Item = u128> + '_ {
    [&peer.amazon_address, &peer.customer_address]
        .into_iter()
        .flatten()
        .filter_map(|a| ipv6_block(a))
}

impl Ipv6Blocks {
    fn new() -> Ipv6Blocks {
        Ipv6Blocks {
            cursor: IPV6_POOL_START,
            ..Ipv6Blocks::default()
        }
    }

    fn add(&mut self, block: u128) {
        let count = self.used.entry(block).or_insert(0);
        *count += 1;
        if *count == 1 {
            self.holes.remove(&block);
        }
    }

    fn remove(&mut self, block: u128) {
        let Some(count) = self.used.get_mut(&block) else {
            return;
        };
        *count -= 1;
        if *count == 0 {
            self.used.remove(&block);
            if (IPV6_POOL_START..self.cursor).contains(&block) {
                self.holes.insert(block);
            }
        }
    }

    /// The lowest free block at or after the pool start (not yet taken: the peer holding it is added later).
    fn lowest_free(&mut self) -> u128 {
        if let Some(hole) = self.holes.first() {
            return *hole;
        }
        // Bounded by the number of used blocks: the cursor only passes used ones.
        while self.used.contains_key(&self.cursor) {
            self.cursor += 8;
        }
        self.cursor
    }
}

/// The live world's indexes. Every change to the list of VIFs or their peers goes through [`WorldIndex::vif_added`],
/// [`WorldIndex::peer_added`], [`WorldIndex::peer_id_added`] or the lifecycle's removals ([`Listing`]).
#[derive(Clone, Debug)]
pub struct WorldIndex {
    positions: Positions,
    peers: HashMap<String, PeerSlot>,
    ipv6: Ipv6Blocks,
    /// VIF positions in id order; rebuilt after a VIF is added or removed.
    by_id: Option<Vec<usize>>,
}

impl WorldIndex {
    /// The indexes of `vifs`, from scratch.
    pub fn build(vifs: &[Arc<Vif>]) -> WorldIndex {
        let mut index = WorldIndex {
            positions: Positions::build(vifs),
            peers: HashMap::new(),
            ipv6: Ipv6Blocks::new(),
            by_id: None,
        };
        for v in vifs {
            for p in &v.bgp_peers {
                index.peer_added(&v.virtual_interface_id, p);
            }
        }
        index
    }

    /// Where the VIF with this id is.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.positions.get(id)
    }

    /// Whether a listed peer has this id.
    pub fn peer_listed(&self, id: &str) -> bool {
        self.peers.contains_key(id)
    }

    /// The VIF listing the peer with this id.
    pub fn vif_of_peer(&self, id: &str) -> Option<&str> {
        self.peers.get(id)?.first().map(String::as_str)
    }

    /// The lowest /125 of the IPv6 pool no listed peer's address falls in.
    pub fn lowest_free_ipv6_block(&mut self) -> u128 {
        self.ipv6.lowest_free()
    }

    /// Positions of `vifs` (the list this index is of) in id order.
    pub fn in_id_order(&mut self, vifs: &[Arc<Vif>]) -> &[usize] {
        self.by_id.get_or_insert_with(|| {
            let mut order: Vec<usize> = (0..vifs.len()).collect();
            order.sort_by(|a, b| {
                vifs[*a]
                    .virtual_interface_id
                    .cmp(&vifs[*b].virtual_interface_id)
            });
            order
        })
    }

    /// A VIF was appended at `position` (its peers are added separately).
    pub fn vif_added(&mut self, id: &str, position: usize) {
        self.positions.0.entry(id.to_string()).or_insert(position);
        self.by_id = None;
    }

    /// A peer joined the VIF `vif`'s list: its id and addresses are taken.
    pub fn peer_added(&mut self, vif: &str, peer: &Peer) {
        if let Some(id) = &peer.bgp_peer_id {
            self.peer_id_added(vif, id);
        }
        for block in ipv6_blocks(peer) {
            self.ipv6.add(block);
        }
    }

    /// A listed peer on `vif` was given the id `id` (ids filled in for a world file that omits them).
    pub fn peer_id_added(&mut self, vif: &str, id: &str) {
        self.peers
            .entry(id.to_string())
            .or_default()
            .push(vif.to_string());
    }

    /// Whether this index says what one rebuilt from `vifs` says (tests, and debug builds after every operation).
    #[cfg(any(test, debug_assertions))]
    pub fn agrees_with(&self, vifs: &[Arc<Vif>]) -> Result<(), String> {
        let fresh = WorldIndex::build(vifs);
        if self.positions != fresh.positions {
            return Err(format!(
                "positions {:?} != {:?}",
                self.positions, fresh.positions
            ));
        }
        let sorted = |peers: &HashMap<String, PeerSlot>| {
            let mut all: Vec<(String, String)> = peers
                .iter()
                .flat_map(|(id, vifs)| vifs.iter().map(move |v| (id.clone(), v.clone())))
                .collect();
            all.sort();
            all
        };
        if sorted(&self.peers) != sorted(&fresh.peers) {
            return Err(format!("peers {:?} != {:?}", self.peers, fresh.peers));
        }
        if self.ipv6.used != fresh.ipv6.used {
            return Err(format!(
                "ipv6 blocks {:?} != {:?}",
                self.ipv6.used, fresh.ipv6.used
            ));
        }
        let (mut mine, mut theirs) = (self.clone(), fresh);
        let (a, b) = (
            mine.lowest_free_ipv6_block(),
            theirs.lowest_free_ipv6_block(),
        );
        if a != b {
            return Err(format!("lowest free ipv6 block {a:#x} != {b:#x}"));
        }
        if let Some(order) = &self.by_id {
            if order.as_slice() != theirs.in_id_order(vifs) {
                return Err("id order differs".into());
            }
        }
        Ok(())
    }
}

impl Listing for WorldIndex {
    fn position(&mut self, _vifs: &[Arc<Vif>], id: &str) -> Option<usize> {
        self.positions.get(id)
    }

    fn peer_removed(&mut self, vif: &str, peer: &Peer) {
        if let Some(id) = &peer.bgp_peer_id {
            if let Some(vifs) = self.peers.get_mut(id) {
                if let Some(at) = vifs.iter().position(|v| v == vif) {
                    vifs.remove(at);
                }
                if vifs.is_empty() {
                    self.peers.remove(id);
                }
            }
        }
        for block in ipv6_blocks(peer) {
            self.ipv6.remove(block);
        }
    }

    fn vif_removed(&mut self, vifs: &[Arc<Vif>], removed: &Vif) {
        for p in &removed.bgp_peers {
            self.peer_removed(&removed.virtual_interface_id, p);
        }
        self.positions.vif_removed(vifs, removed);
        self.by_id = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6_peer(id: &str, block: u128) -> Peer {
        let fmt = |offset: u128| format!("{}/125", Ipv6Addr::from(block + offset));
        Peer {
            bgp_peer_id: Some(id.into()),
            address_family: Some("ipv6".into()),
            amazon_address: Some(fmt(1)),
            customer_address: Some(fmt(6)),
            ..Peer::default()
        }
    }

    fn vif(id: &str, peers: Vec<Peer>) -> Arc<Vif> {
        Arc::new(Vif {
            virtual_interface_id: id.into(),
            bgp_peers: peers,
            ..Vif::default()
        })
    }

    #[test]
    fn the_lowest_free_block_fills_holes_first_and_skips_taken_ones() {
        let b = |n: u128| IPV6_POOL_START + 8 * n;
        let vifs = vec![
            vif("dxvif-a", vec![v6_peer("p0", b(0)), v6_peer("p1", b(1))]),
            vif("dxvif-b", vec![v6_peer("p3", b(3))]),
        ];
        let mut index = WorldIndex::build(&vifs);
        assert_eq!(index.lowest_free_ipv6_block(), b(2));
        index.peer_added("dxvif-b", &v6_peer("p2", b(2)));
        assert_eq!(index.lowest_free_ipv6_block(), b(4), "3 is taken too");
        index.peer_removed("dxvif-a", &v6_peer("p1", b(1)));
        assert_eq!(
            index.lowest_free_ipv6_block(),
            b(1),
            "a freed block is reused"
        );
        index.peer_added("dxvif-a", &v6_peer("p9", b(1)));
        assert_eq!(index.lowest_free_ipv6_block(), b(4));
        // A block shared by two listed peers stays taken until both are gone.
        index.peer_added("dxvif-b", &v6_peer("q0", b(0)));
        index.peer_removed("dxvif-a", &v6_peer("p0", b(0)));
        assert_eq!(index.lowest_free_ipv6_block(), b(4));
        index.peer_removed("dxvif-b", &v6_peer("q0", b(0)));
        assert_eq!(index.lowest_free_ipv6_block(), b(0));
    }

    #[test]
    fn addresses_below_the_pool_and_ipv4_ones_never_matter() {
        let mut low = v6_peer("p0", IPV6_POOL_START - 8);
        low.customer_address = Some("169.254.0.2/30".into());
        let mut index = WorldIndex::build(&[vif("dxvif-a", vec![low.clone()])]);
        assert_eq!(index.lowest_free_ipv6_block(), IPV6_POOL_START);
        index.peer_removed("dxvif-a", &low);
        assert_eq!(index.lowest_free_ipv6_block(), IPV6_POOL_START);
        index.agrees_with(&[vif("dxvif-a", vec![])]).unwrap();
        assert!(index.agrees_with(&[]).is_err(), "dxvif-a is still listed");
    }

    #[test]
    fn a_removed_vif_takes_its_peers_and_position_with_it() {
        let mut vifs = vec![
            vif("dxvif-a", vec![v6_peer("p0", IPV6_POOL_START)]),
            vif("dxvif-b", vec![v6_peer("p1", IPV6_POOL_START + 8)]),
            vif("dxvif-c", vec![]),
        ];
        let mut index = WorldIndex::build(&vifs);
        assert_eq!(index.in_id_order(&vifs), &[0, 1, 2]);
        let gone = vifs.remove(0);
        index.vif_removed(&vifs, &gone);
        assert_eq!(index.position("dxvif-c"), Some(1));
        assert_eq!(index.position("dxvif-a"), None);
        assert!(!index.peer_listed("p0"));
        assert_eq!(index.vif_of_peer("p1"), Some("dxvif-b"));
        assert_eq!(index.lowest_free_ipv6_block(), IPV6_POOL_START);
        assert_eq!(index.in_id_order(&vifs), &[0, 1]);
        index.agrees_with(&vifs).unwrap();
    }
}
