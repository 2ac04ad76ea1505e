//! The shape of NAS-Bench-201's accuracy under a budget, as a mutation sees it.
//!
//! Evolution moves by changing one edge of a cell at a time; a budget removes the cells over it.
//! What is left can be one hill or many: counting local optima and how often a greedy climb
//! reaches the top tells in advance whether evolution will beat random search under a budget.

use serde::Serialize;

use crate::{Dataset, NasBench201};

/// How accuracy on a dataset is laid out over the cells a budget admits, with two cells
/// neighbours when they differ in one edge's operation (24 neighbours each).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Landscape {
    /// Cells the budget admits.
    pub n_admitted: usize,
    /// The best accuracy among them, percent.
    pub optimum: f64,
    /// Admitted cells that no admitted neighbour beats.
    pub n_local_optima: usize,
    /// Of those, the ones within half a point of the optimum.
    pub n_near_optima: usize,
    /// Admitted neighbours of an admitted cell, on average (24 without a budget).
    pub mean_admitted_neighbours: f64,
    /// Share of admitted cells from which steepest ascent over admitted neighbours ends within
    /// 0.1 points of the optimum.
    pub climbs_to_optimum: f64,
}

impl NasBench201 {
    /// The landscape of `dataset` over the cells `admits` accepts (by index); `None` when it
    /// accepts none.
    pub fn landscape(&self, dataset: Dataset, admits: impl Fn(usize) -> bool) -> Option<Landscape> {
        let admitted: Vec<bool> = (0..self.len()).map(&admits).collect();
        let accuracy = |index: usize| self.accuracy(index, dataset);
        let neighbours = |index: usize| {
            self.neighbours(index)
                .filter(|&neighbour| admitted[neighbour])
        };
        let cells: Vec<usize> = (0..self.len()).filter(|&i| admitted[i]).collect();
        let optimum = cells.iter().map(|&i| accuracy(i)).max_by(f64::total_cmp)?;
        let (mut n_local_optima, mut n_near_optima, mut n_neighbours) = (0, 0, 0);
        // Where steepest ascent from each cell ends, filled as climbs pass through cells.
        let mut summit: Vec<Option<usize>> = vec![None; self.len()];
        let mut n_climbed = 0;
        for &start in &cells {
            n_neighbours += neighbours(start).count();
            let best_neighbour =
                neighbours(start).max_by(|&a, &b| accuracy(a).total_cmp(&accuracy(b)));
            if best_neighbour.is_none_or(|n| accuracy(n) <= accuracy(start)) {
                n_local_optima += 1;
                n_near_optima += usize::from(optimum - accuracy(start) < 0.5);
            }
            let mut path = vec![start];
            let end = loop {
                let at = *path.last().expect("starts with one cell");
                if let Some(end) = summit[at] {
                    break end;
                }
                let up = neighbours(at)
                    .max_by(|&a, &b| accuracy(a).total_cmp(&accuracy(b)))
                    .filter(|&n| accuracy(n) > accuracy(at));
                match up {
                    Some(next) => path.push(next),
                    None => break at,
                }
            };
            for cell in path {
                summit[cell] = Some(end);
            }
            n_climbed += usize::from(optimum - accuracy(end) < 0.1);
        }
        Some(Landscape {
            n_admitted: cells.len(),
            optimum,
            n_local_optima,
            n_near_optima,
            mean_admitted_neighbours: n_neighbours as f64 / cells.len() as f64,
            climbs_to_optimum: n_climbed as f64 / cells.len() as f64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_breaks_the_landscape_into_more_hills() {
        let bench = NasBench201::get();
        let open = bench.landscape(Dataset::Cifar10, |_| true).unwrap();
        assert_eq!(open.n_admitted, 15_625);
        assert_eq!(open.mean_admitted_neighbours, 24.0);
        assert!((open.optimum - 94.3733).abs() < 1e-4);
        // One hill nearly: 18 local optima, and three climbs in four reach the top.
        assert_eq!((open.n_local_optima, open.n_near_optima), (18, 5));
        assert_eq!(open.climbs_to_optimum, 11_561.0 / 15_625.0);

        let pixel3 = bench.device("pixel3").unwrap();
        let limit = bench.median_latency(pixel3);
        let budgeted = bench
            .landscape(Dataset::Cifar10, |i| bench.latency(i, pixel3) <= limit)
            .unwrap();
        let n_within = (0..bench.len())
            .filter(|&i| bench.latency(i, pixel3) <= limit)
            .count();
        assert_eq!(budgeted.n_admitted, n_within);
        assert_eq!(n_within, 7813);
        assert!(budgeted.mean_admitted_neighbours < 24.0);
        // The Pixel 3's median cuts it into 138 hills; one climb in eleven reaches the top.
        assert_eq!((budgeted.n_local_optima, budgeted.n_near_optima), (138, 22));
        assert_eq!(budgeted.climbs_to_optimum, 693.0 / 7813.0);

        // A budget that admits one cell: it is its own optimum, without neighbours.
        let only = bench.landscape(Dataset::Cifar10, |i| i == 42).unwrap();
        assert_eq!((only.n_admitted, only.n_local_optima), (1, 1));
        assert_eq!(only.climbs_to_optimum, 1.0);
        assert!(bench.landscape(Dataset::Cifar10, |_| false).is_none());
    }

    #[test]
    fn neighbours_differ_in_one_edge() {
        let bench = NasBench201::get();
        for index in [0, 9930, 15_624] {
            let neighbours: Vec<usize> = bench.neighbours(index).collect();
            assert_eq!(neighbours.len(), 24);
            let cell = bench.cells[index];
            for neighbour in neighbours {
                let other = bench.cells[neighbour];
                let n_differing = cell.iter().zip(&other).filter(|(a, b)| a != b).count();
                assert_eq!(n_differing, 1, "{index} / {neighbour}");
            }
        }
    }
}
